/** JSON schemas of the tracker's HTTP API: every request is checked against one before it is used. */

const counter = { type: 'number', minimum: 0 } as const

export const announceBody = {
  type: 'object',
  additionalProperties: false,
  required: ['peerId', 'role', 'addresses', 'packages'],
  properties: {
    peerId: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[1-9A-HJ-NP-Za-km-z]+$' },
    role: { enum: ['client', 'dp'] },
    addresses: { type: 'array', maxItems: 16, items: { type: 'string', minLength: 1, maxLength: 256, pattern: '^/' } },
    packages: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'have', 'pieces'],
        properties: {
          id: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          have: { type: 'integer', minimum: 0 },
          pieces: { type: 'integer', minimum: 1 },
          bytes: { type: 'object', additionalProperties: false, properties: { lan: counter, wan: counter, reused: counter } },
          uploaded: { type: 'object', maxProperties: 4096, propertyNames: { maxLength: 18 }, additionalProperties: counter },
        },
      },
    },
    event: { enum: ['stopped'] },
  },
} as const

export const budgetsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'integer', minimum: 0 },
    waitSeconds: { type: 'integer', minimum: 0, maximum: 60 },
  },
} as const

export const scopeQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    site: { type: 'string', minLength: 1, maxLength: 64 },
    subnet: { type: 'string', minLength: 1, maxLength: 18 },
  },
} as const

export const throttleBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    site: { type: 'string', minLength: 1, maxLength: 64 },
    subnet: { type: 'string', minLength: 1, maxLength: 18 },
    timezone: { type: 'string', minLength: 1, maxLength: 64 },
    default: { type: 'string', minLength: 1, maxLength: 32 },
    windows: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 128 } },
    maxWanClients: { type: 'integer', minimum: 0, maximum: 10000 },
  },
} as const

const rate = { type: ['number', 'null'] } as const

const budgetList = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    subnets: { type: 'array', items: { type: 'object', properties: { subnet: { type: 'string' }, site: { type: 'string' }, rateBytesPerSec: rate } } },
    unassignedRateBytesPerSec: rate,
  },
} as const

/** The announce answer: a schema lets fastify serialise it without JSON.stringify (the hot path). */
export const announceAnswer = {
  type: 'object',
  properties: {
    subnet: { type: 'string' },
    site: { type: ['string', 'null'] },
    intervalSeconds: { type: 'integer' },
    packages: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          peers: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                peerId: { type: 'string' },
                addresses: { type: 'array', items: { type: 'string' } },
                tier: { type: 'string' },
                have: { type: 'integer' },
                pieces: { type: 'integer' },
              },
            },
          },
          lease: { anyOf: [{ type: 'null' }, { type: 'object', properties: { rateBytesPerSec: rate, expiresAt: { type: 'string' } } }] },
        },
      },
    },
    budgets: budgetList,
  },
} as const

export const budgetsAnswer = budgetList
