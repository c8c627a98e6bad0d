// The JSON API, with the signed-in token as a bearer header (never in a URL or a cookie).
const KEY = 'peerstage.token'

export const auth = {
  get token() { return sessionStorage.getItem(KEY) ?? undefined },
  set token(t) { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY) },
}

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = {}
  if (auth.token) headers.authorization = `Bearer ${auth.token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const json = await res.json().catch(() => ({}))
  if (!res.ok) throw new ApiError(res.status, json.error?.code ?? 'HTTP', json.error?.message ?? `${method} ${path}: HTTP ${res.status}`)
  return json
}
