;; FastCDC 2020 cut loop (two bytes per step, left-shifted gear table), as the `fastcdc`
;; crate's v2020 `cut_gear`. Built by `npm run build:wasm` into cut-wasm.ts.
;;
;; Memory: GEAR at 0 (256 x i64), GEAR_LS at 2048 (GEAR << 1), chunk data from 4096 on.
(module
  (memory (export "memory") 1)
  ;; Length of the chunk starting at $src, given $remaining bytes to the end of the file;
  ;; memory must hold min($remaining, $max) bytes from $src.
  (func (export "cut")
    (param $src i32) (param $remaining i32) (param $min i32) (param $avg i32) (param $max i32)
    (param $maskS i64) (param $maskSls i64) (param $maskL i64) (param $maskLls i64)
    (result i32)
    (local $center i32) (local $end i32) (local $a i32)
    (local $centerAt i32) (local $endAt i32) (local $h i64)
    (if (i32.le_u (local.get $remaining) (local.get $min))
      (then (return (local.get $remaining))))
    (local.set $center (local.get $avg))
    (local.set $end (local.get $remaining))
    (if (i32.gt_u (local.get $end) (local.get $max))
      (then (local.set $end (local.get $max)))
      (else (if (i32.lt_u (local.get $end) (local.get $center))
        (then (local.set $center (local.get $end))))))
    ;; Walk a pointer two bytes at a time; the pair at $a is tested with the small mask
    ;; while $a is before center (rounded down to even), with the large one up to end.
    (local.set $a (i32.add (local.get $src) (i32.and (local.get $min) (i32.const -2))))
    (local.set $centerAt (i32.add (local.get $src) (i32.and (local.get $center) (i32.const -2))))
    (local.set $endAt (i32.add (local.get $src) (i32.and (local.get $end) (i32.const -2))))
    (block $small_done
      (loop $small
        (br_if $small_done (i32.ge_u (local.get $a) (local.get $centerAt)))
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 2))
          (i64.load offset=2048 (i32.shl (i32.load8_u (local.get $a)) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $maskSls)))
          (then (return (i32.sub (local.get $a) (local.get $src)))))
        (local.set $h (i64.add (local.get $h)
          (i64.load (i32.shl (i32.load8_u offset=1 (local.get $a)) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $maskS)))
          (then (return (i32.sub (i32.add (local.get $a) (i32.const 1)) (local.get $src)))))
        (local.set $a (i32.add (local.get $a) (i32.const 2)))
        (br $small)))
    (block $large_done
      (loop $large
        (br_if $large_done (i32.ge_u (local.get $a) (local.get $endAt)))
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 2))
          (i64.load offset=2048 (i32.shl (i32.load8_u (local.get $a)) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $maskLls)))
          (then (return (i32.sub (local.get $a) (local.get $src)))))
        (local.set $h (i64.add (local.get $h)
          (i64.load (i32.shl (i32.load8_u offset=1 (local.get $a)) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $maskL)))
          (then (return (i32.sub (i32.add (local.get $a) (i32.const 1)) (local.get $src)))))
        (local.set $a (i32.add (local.get $a) (i32.const 2)))
        (br $large)))
    (local.get $end))
)
