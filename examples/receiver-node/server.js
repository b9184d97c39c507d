#!/usr/bin/env node
// A receiver of Midstream's callback wire format, version 1, written from
// connectors/callback/README.md alone: no Midstream code, no dependency,
// only Node's own http and crypto. It verifies, decrypts and applies every
// event type, one per request or many in a batch request, keeps what it is
// sent in memory, and shows it at GET /state.
//
//   node server.js --port 8472 --token T [--encryption-key K]
//                  [--signature-key S | --jwks-url URL]
//
// Every option can also come from the environment: RECEIVER_TOKEN,
// RECEIVER_ENCRYPTION_KEY, RECEIVER_SIGNATURE_KEY, RECEIVER_JWKS_URL.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');

// ---- configuration ----

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1',
    port: 8472,
    token: process.env.RECEIVER_TOKEN || '',
    encryptionKey: process.env.RECEIVER_ENCRYPTION_KEY || '',
    signatureKey: process.env.RECEIVER_SIGNATURE_KEY || '',
    jwksUrl: process.env.RECEIVER_JWKS_URL || '',
    replayWindowMs: 5 * 60 * 1000,
    jwksMinRefreshMs: 10 * 1000,
    jwksMaxAgeMs: 60 * 60 * 1000,
    maxBodyBytes: 4 << 20,
    // README, "Batches": a batch's JSON is at most 512 KiB, so that,
    // encrypted, it stays under the 1 MiB body limit of common proxies.
    maxBatchBytes: 512 << 10,
  };
  const names = {
    '--host': 'host', '--port': 'port', '--token': 'token',
    '--encryption-key': 'encryptionKey', '--signature-key': 'signatureKey', '--jwks-url': 'jwksUrl',
    '--replay-window-ms': 'replayWindowMs', '--jwks-min-refresh-ms': 'jwksMinRefreshMs',
  };
  for (let i = 0; i < argv.length; i++) {
    const name = names[argv[i]];
    if (!name || i + 1 >= argv.length) {
      throw new Error(`unknown option or missing value: ${argv[i]}`);
    }
    const v = argv[++i];
    opts[name] = typeof opts[name] === 'number' ? Number(v) : v;
  }
  if (!opts.token) throw new Error('a bearer token is required (--token or RECEIVER_TOKEN)');
  if (opts.signatureKey && opts.jwksUrl) throw new Error('give --signature-key or --jwks-url, not both');
  opts.aesKey = opts.encryptionKey ? parseEncryptionKey(opts.encryptionKey) : null;
  opts.hmacKey = opts.signatureKey ? Buffer.from(opts.signatureKey.trim(), 'utf8') : null;
  return opts;
}

// README, "Encryption": exactly 16 characters (their bytes: AES-128) or
// exactly 64 hex characters (32 bytes: AES-256).
function parseEncryptionKey(s) {
  s = s.trim();
  if (s.length === 16 && /^[\x20-\x7e]{16}$/.test(s)) return Buffer.from(s, 'latin1');
  if (s.length === 64 && /^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  throw new Error('the encryption key must be 16 characters or 64 hex characters');
}

// ---- rejections (README, "Rejections") ----

class Rejection extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
const reject = (status, code, message) => { throw new Rejection(status, code, message); };

// ---- the hub's public keys (README, "Signatures", jws) ----

class JWKSCache {
  constructor(url, minRefreshMs, maxAgeMs) {
    this.url = url;
    this.minRefreshMs = minRefreshMs;
    this.maxAgeMs = maxAgeMs;
    this.keys = null; // kid -> JWK
    this.fetchedAt = 0;
    this.attemptAt = 0;
    this.pending = null;
  }

  async fetchKeys() {
    const resp = await fetch(this.url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10000) });
    if (resp.status !== 200) throw new Error(`HTTP ${resp.status} from ${this.url}`);
    const set = await resp.json();
    if (!set || !Array.isArray(set.keys)) throw new Error(`${this.url} is not a JWKS`);
    const keys = new Map();
    for (const k of set.keys) if (k && typeof k.kid === 'string') keys.set(k.kid, k);
    return keys;
  }

  async refresh() {
    if (!this.pending) {
      this.attemptAt = Date.now();
      this.pending = this.fetchKeys()
        .then((keys) => { this.keys = keys; this.fetchedAt = Date.now(); return null; })
        .catch((err) => err)
        .finally(() => { this.pending = null; });
    }
    return this.pending;
  }

  // The key kid: cached, or after reading the JWKS again when it is stale
  // or kid is unknown (at most every minRefreshMs).
  async key(kid) {
    const now = Date.now();
    const fresh = this.keys && now - this.fetchedAt < this.maxAgeMs;
    if (fresh && this.keys.has(kid)) return this.keys.get(kid);
    let err = null;
    if (!fresh || now - this.attemptAt >= this.minRefreshMs) err = await this.refresh();
    if (this.keys && this.keys.has(kid)) return this.keys.get(kid);
    if (err || !this.keys) reject(503, 'keys_unavailable', `cannot read the hub's JWKS: ${err ? err.message : 'no keys'}`);
    reject(401, 'unknown_key', `the request is signed by key ${JSON.stringify(kid)}, which the hub's JWKS does not hold`);
  }
}

// ---- verification (README, "Receiving, step by step") ----

const HEX32 = /^[0-9a-f]{32}$/;
const DIGITS = /^[0-9]{1,15}$/;
// README, "The event": RFC 3339. The hub leaves out a fraction's trailing
// zeros (".5Z", or none at a whole second), so any fraction is accepted.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
// README, "Batches": a batch holds 1 to 1000 events.
const MAX_BATCH_EVENTS = 1000;
const b64url = (buf) => Buffer.from(buf).toString('base64url');

function constantTimeEqual(a, b) {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}

class Verifier {
  constructor(opts) {
    this.opts = opts;
    this.jwks = opts.jwksUrl ? new JWKSCache(opts.jwksUrl, opts.jwksMinRefreshMs, opts.jwksMaxAgeMs) : null;
    this.nonces = new Map(); // nonce -> forget after (ms)
  }

  // Steps 1 to 6: returns the request's plaintext body and its time (ms),
  // or throws a Rejection. A batch runs them once, for the whole request.
  async unseal(headers, body) {
    const o = this.opts;
    // 1. The bearer token.
    const auth = headers['authorization'] || '';
    const m = /^bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m || !constantTimeEqual(Buffer.from(m[1]), Buffer.from(o.token))) {
      reject(401, 'invalid_token', 'missing or wrong bearer token');
    }
    // 2. The version.
    if (headers['x-midstream-version'] !== '1') {
      reject(400, 'unsupported_version', `unsupported wire format version ${JSON.stringify(headers['x-midstream-version'] || '')} (this receiver speaks 1)`);
    }
    // 3. Timestamp and nonce.
    const ts = headers['x-midstream-timestamp'] || '';
    const nonce = headers['x-midstream-nonce'] || '';
    if (!DIGITS.test(ts)) reject(400, 'invalid_request', `X-Midstream-Timestamp ${JSON.stringify(ts)} is not milliseconds since the epoch`);
    if (!HEX32.test(nonce)) reject(400, 'invalid_request', `X-Midstream-Nonce ${JSON.stringify(nonce)} is not 32 lowercase hex characters`);
    const at = Number(ts);
    const skew = Date.now() - at;
    if (Math.abs(skew) > o.replayWindowMs) {
      reject(401, 'stale_timestamp', `request timestamp ${new Date(at).toISOString()} is ${Math.round(Math.abs(skew) / 1000)}s from this receiver's clock, more than the ${o.replayWindowMs / 1000}s allowed`);
    }
    // 4. The signature, over timestamp "." nonce "." body.
    const signingString = Buffer.concat([Buffer.from(`${ts}.${nonce}.`, 'ascii'), body]);
    if (o.hmacKey || this.jwks) await this.checkSignature(headers['x-midstream-signature'] || '', signingString);
    // 5. Decryption.
    let plain = body;
    let envelope = null;
    try { envelope = JSON.parse(body.toString('utf8')); } catch { envelope = null; }
    const isEnvelope = envelope && typeof envelope === 'object' && !Array.isArray(envelope) && 'ciphertext' in envelope;
    if (o.aesKey) {
      if (!envelope || typeof envelope !== 'object') reject(400, 'invalid_request', 'the body is not a JSON object');
      if (!isEnvelope) reject(400, 'encryption_required', 'the body is not encrypted, but this receiver requires encryption');
      plain = this.decrypt(envelope, `${ts}.${nonce}`);
    } else if (isEnvelope) {
      reject(400, 'decryption_failed', 'the body is encrypted, but this receiver has no encryption key');
    }
    // 6. The nonce, once.
    this.rememberNonce(nonce, at + o.replayWindowMs);
    return { plain, at };
  }

  // Returns the event of a single request, or throws a Rejection.
  async open(headers, body) {
    const { plain, at } = await this.unseal(headers, body);
    // 7. The event.
    let ev;
    try { ev = JSON.parse(plain.toString('utf8')); } catch (err) { reject(400, 'invalid_request', `the event is not JSON: ${err.message}`); }
    validateEvent(ev);
    if (headers['idempotency-key'] && headers['idempotency-key'] !== ev.eventId) reject(400, 'invalid_request', 'Idempotency-Key does not match eventId');
    if (headers['x-midstream-event'] && headers['x-midstream-event'] !== ev.eventType) reject(400, 'invalid_request', 'X-Midstream-Event does not match eventType');
    if (headers['x-midstream-hub-id'] && (!ev.object || headers['x-midstream-hub-id'] !== ev.object.hubId)) reject(400, 'invalid_request', 'X-Midstream-Hub-Id does not match object.hubId');
    if (ev.timestamp && Date.parse(ev.timestamp) !== at) reject(400, 'invalid_request', 'X-Midstream-Timestamp does not match timestamp');
    return ev;
  }

  // README, "Batches": returns the entries of a batch request, in order,
  // each {eventId, ev} or {eventId, rejection}; throws a Rejection when the
  // request fails as a whole (steps 1 to 6, or a body that is no batch).
  async openBatch(headers, body) {
    const { plain, at } = await this.unseal(headers, body);
    // Each event carries its own eventId and hubId, and a retry may group
    // events differently: headers naming one event have no place here.
    for (const name of ['Idempotency-Key', 'X-Midstream-Hub-Id']) {
      if (headers[name.toLowerCase()] !== undefined) reject(400, 'invalid_request', `a batch request carries no ${name} header: each event carries its own`);
    }
    // 413, which the hub reads as "too large": it sends the events again
    // in smaller batches instead of failing them.
    if (plain.length > this.opts.maxBatchBytes) reject(413, 'too_large', `the batch's JSON is ${plain.length} bytes, over the ${this.opts.maxBatchBytes} a batch may hold`);
    let batch;
    try { batch = JSON.parse(plain.toString('utf8')); } catch (err) { reject(400, 'invalid_request', `the batch is not JSON: ${err.message}`); }
    if (!batch || typeof batch !== 'object' || Array.isArray(batch)) reject(400, 'invalid_request', 'the batch is not a JSON object');
    if (batch.version !== '1') reject(400, 'unsupported_version', `unsupported wire format version ${JSON.stringify(batch.version)} of the batch (this receiver speaks 1)`);
    if (!Array.isArray(batch.events)) reject(400, 'invalid_request', 'the batch has no "events" array');
    const n = batch.events.length;
    if (n < 1 || n > MAX_BATCH_EVENTS) reject(400, 'invalid_request', `a batch holds 1 to ${MAX_BATCH_EVENTS} events, not ${n}`);
    const ids = new Set();
    const objects = new Set();
    return batch.events.map((ev, i) => {
      // The key of the element's result, even when it is no valid event.
      const eventId = ev && typeof ev === 'object' && typeof ev.eventId === 'string' ? ev.eventId : '';
      try {
        validateEvent(ev);
        // The hub matches results by eventId: two events with one id could
        // not be told apart.
        if (ids.has(ev.eventId)) reject(400, 'invalid_request', `event ${ev.eventId} appears twice in the batch`);
        ids.add(ev.eventId);
        // A later event of an object waits for the answer to the request
        // carrying the earlier one, so a batch never carries two.
        if (ev.object) {
          const key = `${ev.object.kind}:${ev.object.hubId}`;
          if (objects.has(key)) reject(400, 'invalid_request', `a second event of ${ev.object.kind} ${ev.object.hubId} in the batch, which holds at most one event per object`);
          objects.add(key);
        }
        if (typeof ev.timestamp !== 'string' || !RFC3339.test(ev.timestamp) || Date.parse(ev.timestamp) !== at) {
          reject(400, 'invalid_request', `event ${ev.eventId} has timestamp ${JSON.stringify(ev.timestamp)}, not the request's X-Midstream-Timestamp ${at}`);
        }
        return { eventId, ev };
      } catch (err) {
        if (!(err instanceof Rejection)) throw err;
        return { eventId, rejection: new Rejection(err.status, err.code, `events[${i}]: ${err.message}`) };
      }
    });
  }

  async checkSignature(header, signingString) {
    const want = this.jwks ? 'jws' : 'hmac-sha256';
    if (!header) reject(401, 'invalid_signature', `the request is not signed: this receiver requires a ${want} signature`);
    const eq = header.indexOf('=');
    const scheme = eq < 0 ? header : header.slice(0, eq);
    const value = eq < 0 ? '' : header.slice(eq + 1);
    if (scheme !== want) reject(401, 'invalid_signature', `the request is signed with ${JSON.stringify(scheme)}, but this receiver requires ${want}`);
    if (!this.jwks) {
      const got = Buffer.from(value, 'base64');
      const mac = crypto.createHmac('sha256', this.opts.hmacKey).update(signingString).digest();
      if (got.length !== mac.length || !crypto.timingSafeEqual(got, mac)) {
        reject(401, 'invalid_signature', 'the hmac-sha256 signature does not match: the signature key differs, or the request was altered');
      }
      return;
    }
    // A detached compact JWS: <protected>..<signature>.
    const parts = value.split('.');
    if (parts.length !== 3 || parts[1] !== '') reject(401, 'invalid_signature', 'the signature is not a detached compact JWS');
    let hdr;
    try { hdr = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')); } catch { reject(401, 'invalid_signature', 'the JWS header is not base64url JSON'); }
    if (!hdr || typeof hdr !== 'object') reject(401, 'invalid_signature', 'the JWS header is not a JSON object');
    if (hdr.crit !== undefined) reject(401, 'invalid_signature', 'the JWS header has "crit" extensions');
    if (hdr.alg !== 'RS256' && hdr.alg !== 'ES256') reject(401, 'invalid_signature', `the JWS algorithm ${JSON.stringify(hdr.alg)} is not accepted`);
    if (typeof hdr.kid !== 'string' || !hdr.kid) reject(401, 'invalid_signature', 'the JWS header has no kid');
    const jwk = await this.jwks.key(hdr.kid);
    if (jwk.alg !== undefined && jwk.alg !== hdr.alg) reject(401, 'invalid_signature', `key ${hdr.kid} is for ${jwk.alg}, not ${hdr.alg}`);
    if (jwk.use !== undefined && jwk.use !== 'sig') reject(401, 'invalid_signature', `key ${hdr.kid} is not for signatures`);
    const rsa = hdr.alg === 'RS256';
    if (rsa ? jwk.kty !== 'RSA' : (jwk.kty !== 'EC' || jwk.crv !== 'P-256')) reject(401, 'invalid_signature', `key ${hdr.kid} does not fit ${hdr.alg}`);
    let key;
    try {
      const pub = rsa ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
      key = crypto.createPublicKey({ key: pub, format: 'jwk' });
    } catch (err) {
      reject(401, 'invalid_signature', `key ${hdr.kid} is not a valid public key: ${err.message}`);
    }
    if (rsa && key.asymmetricKeyDetails.modulusLength < 2048) reject(401, 'invalid_signature', `key ${hdr.kid} is shorter than 2048 bits`);
    const input = Buffer.from(`${parts[0]}.${b64url(signingString)}`, 'ascii');
    const sig = Buffer.from(parts[2], 'base64url');
    const ok = rsa
      ? crypto.verify('sha256', input, key, sig)
      : sig.length === 64 && crypto.verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig);
    if (!ok) reject(401, 'invalid_signature', 'the JWS signature does not match: the request was altered, or signed by another key');
  }

  decrypt(env, aad) {
    const key = this.opts.aesKey;
    const name = key.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm';
    if (env.version !== '1') reject(400, 'unsupported_version', `unsupported envelope version ${JSON.stringify(env.version)}`);
    if (env.encryption !== name) reject(400, 'decryption_failed', `the body is encrypted with ${JSON.stringify(env.encryption)}, but this receiver's key is for ${name}`);
    if (typeof env.ciphertext !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(env.ciphertext) || env.ciphertext.length % 4 !== 0) {
      reject(400, 'decryption_failed', 'the ciphertext is not standard base64');
    }
    const raw = Buffer.from(env.ciphertext, 'base64');
    if (raw.length < 12 + 16) reject(400, 'decryption_failed', `the ciphertext is truncated: ${raw.length} bytes, less than the 28 of IV and tag`);
    const iv = raw.subarray(0, 12);
    const tag = raw.subarray(raw.length - 16);
    const data = raw.subarray(12, raw.length - 16);
    try {
      const d = crypto.createDecipheriv(name, key, iv, { authTagLength: 16 });
      d.setAAD(Buffer.from(aad, 'ascii'));
      d.setAuthTag(tag);
      return Buffer.concat([d.update(data), d.final()]);
    } catch {
      reject(400, 'decryption_failed', 'decryption failed: the encryption key differs, or the ciphertext, timestamp or nonce was altered');
    }
  }

  rememberNonce(nonce, until) {
    const now = Date.now();
    const seen = this.nonces.get(nonce);
    if (seen !== undefined && seen > now) reject(401, 'replayed_nonce', `nonce ${nonce} was already used: a replayed request`);
    this.nonces.set(nonce, until);
    if (this.nonces.size > 1024 && this.nonces.size % 1024 === 0) {
      for (const [n, t] of this.nonces) if (t <= now) this.nonces.delete(n);
    }
  }
}

// README, "The event".
const EVENT_TYPES = new Set(['test',
  'user.create', 'user.update', 'user.delete', 'user.disable', 'user.enable', 'user.move', 'user.password',
  'org.create', 'org.update', 'org.delete', 'org.disable', 'org.enable', 'org.move']);

function validateEvent(ev) {
  const bad = (msg) => reject(400, 'invalid_request', msg);
  if (!ev || typeof ev !== 'object' || Array.isArray(ev)) bad('the event is not a JSON object');
  if (ev.version !== '1') reject(400, 'unsupported_version', `unsupported wire format version ${JSON.stringify(ev.version)}`);
  if (typeof ev.eventId !== 'string' || !ev.eventId) bad('the event has no eventId');
  if (!EVENT_TYPES.has(ev.eventType)) bad(`unknown eventType ${JSON.stringify(ev.eventType)}`);
  if (ev.eventType === 'test') return;
  const o = ev.object;
  if (!o || typeof o !== 'object') bad(`${ev.eventType} without an object`);
  if (typeof o.hubId !== 'string' || !o.hubId) bad('the object has no hubId');
  if (o.kind !== ev.eventType.split('.')[0]) bad(`object kind ${JSON.stringify(o.kind)} does not match eventType`);
  if (o.password !== undefined && ev.eventType !== 'user.create' && ev.eventType !== 'user.password') bad(`a password in a ${ev.eventType} event`);
  if (o.attributes !== undefined && (o.attributes === null || typeof o.attributes !== 'object' || Array.isArray(o.attributes))) bad('attributes is not an object');
}

// ---- the application: objects in memory (README, "Event types") ----

class App {
  constructor() { this.reset(); }

  reset() {
    this.objects = new Map(); // id -> object
    this.byHub = new Map();   // kind + ":" + hubId -> id
    this.next = 0;
    this.events = [];         // what was received, passwords hashed
    this.rejections = [];     // {code, message, status}, and eventId for one event of a batch
    this.tests = 0;
    this.batches = [];        // the number of events of each batch request read
  }

  record(ev) {
    const copy = JSON.parse(JSON.stringify(ev));
    if (copy.object && copy.object.password !== undefined) {
      copy.object.passwordSha256 = sha256(copy.object.password);
      delete copy.object.password;
    }
    this.events.push(copy);
  }

  // Applies ev and returns the answer's status and body.
  apply(ev) {
    this.record(ev);
    if (ev.eventType === 'test') {
      this.tests++;
      return [200, { status: 'ok', message: 'test event received' }];
    }
    const obj = ev.object;
    const op = ev.eventType.split('.')[1];
    const hubKey = `${obj.kind}:${obj.hubId}`;
    if (op === 'create') {
      const held = this.byHub.get(hubKey);
      if (held !== undefined) {
        // A resend: apply the values as an update, answer the same id.
        this.merge(this.objects.get(held), obj);
        return [200, { id: held, status: 'exists' }];
      }
      const id = `${obj.kind}-${++this.next}`;
      const o = { id, kind: obj.kind, hubId: obj.hubId, displayName: '', attributes: {}, parent: null, orgs: [], disabled: false, passwordSha256: '' };
      this.merge(o, obj);
      this.objects.set(id, o);
      this.byHub.set(hubKey, id);
      return [200, { id, status: 'ok' }];
    }
    let id = obj.targetId;
    if (!id || !this.objects.has(id)) id = this.byHub.get(hubKey);
    const o = id === undefined ? undefined : this.objects.get(id);
    if (!o || o.kind !== obj.kind) {
      if (op === 'delete') return [200, { status: 'ok', message: 'not held' }];
      return [404, { status: 'error', code: 'not_found', message: `no ${obj.kind} with hub id ${obj.hubId}` }];
    }
    if (o.hubId !== obj.hubId) {
      // README, "The event": the object was linked to another hub object
      // (an operator's `midstream links set`): it is known by that one now.
      const oldKey = `${o.kind}:${o.hubId}`;
      if (this.byHub.get(oldKey) === id) this.byHub.delete(oldKey);
      o.hubId = obj.hubId;
      this.byHub.set(hubKey, id);
    }
    switch (op) {
      case 'update': this.merge(o, obj); break;
      case 'password': o.passwordSha256 = sha256(obj.password || ''); break;
      case 'disable': o.disabled = true; break;
      case 'enable': o.disabled = false; break;
      case 'move': o.parent = obj.parent || null; o.orgs = obj.orgs || []; break;
      case 'delete': this.objects.delete(id); this.byHub.delete(hubKey); break;
    }
    return [200, { id, status: 'ok' }];
  }

  // README, "Batches": applies the entries of a batch one after the other,
  // in order, each as if it had come alone, and returns one result per
  // entry: one event's failure is its own.
  applyBatch(entries) {
    this.batches.push(entries.length);
    return entries.map(({ eventId, ev, rejection }) => {
      if (rejection) {
        this.rejections.push({ status: rejection.status, code: rejection.code, message: rejection.message, eventId });
        return batchResult(eventId, rejection.status, { status: 'error', code: rejection.code, message: rejection.message });
      }
      try {
        const [status, answer] = this.apply(ev);
        return batchResult(eventId, status, answer);
      } catch (err) {
        // A single request would have been answered 500 (and retried):
        // so is this event, without failing the others.
        process.stderr.write(`receiver-node: ${err.stack || err}\n`);
        return batchResult(eventId, 500, { status: 'error', message: 'internal error' });
      }
    });
  }

  merge(o, obj) {
    if (obj.displayName) o.displayName = obj.displayName;
    for (const [k, v] of Object.entries(obj.attributes || {})) {
      if (v === null) delete o.attributes[k];
      else o.attributes[k] = v;
    }
    if (obj.parent !== undefined) o.parent = obj.parent;
    if (obj.orgs !== undefined) o.orgs = obj.orgs;
    if (obj.password) o.passwordSha256 = sha256(obj.password);
  }

  state() {
    const objects = [...this.objects.values()].sort((a, b) => (a.kind + a.id).localeCompare(b.kind + b.id, 'en', { numeric: true }));
    return { objects, events: this.events, rejections: this.rejections, tests: this.tests, batches: this.batches };
  }
}

// README, "Batches", the answer: what the event alone would have been
// answered, with its eventId and the HTTP status it would have had.
function batchResult(eventId, httpStatus, answer) {
  const r = { eventId, status: answer.status || (httpStatus >= 400 ? 'error' : 'ok'), httpStatus };
  if (answer.id !== undefined) r.id = answer.id;
  if (answer.code) r.code = answer.code;
  if (answer.message) r.message = answer.message;
  return r;
}

const sha256 = (s) => crypto.createHash('sha256').update(String(s), 'utf8').digest('hex');

// ---- HTTP ----

function readBody(req, limit) {
  return new Promise((resolve, reject_) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject_(new Rejection(413, 'too_large', `the body is over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject_);
  });
}

function send(res, status, body) {
  const b = JSON.stringify(body);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) };
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="midstream"';
  res.writeHead(status, headers);
  res.end(b);
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`receiver-node: ${err.message}\n`);
    process.exit(2);
  }
  const verifier = new Verifier(opts);
  const app = new App();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    try {
      if (req.method === 'GET' && url.pathname === '/state') return send(res, 200, app.state());
      if (req.method === 'DELETE' && url.pathname === '/state') { app.reset(); return send(res, 200, { status: 'ok' }); }
      if (url.pathname !== '/callback') return send(res, 404, { status: 'error', message: 'not found' });
      if (req.method !== 'POST') return send(res, 405, { status: 'error', message: 'callbacks are POST requests' });
      const body = await readBody(req, opts.maxBodyBytes);
      // README, "Batches": one event's failure is its own, so a batch is
      // answered 200 with each event's result; only a failure of the whole
      // request (a Rejection) is answered as it would be for one event.
      if (req.headers['x-midstream-event'] === 'batch') {
        const entries = await verifier.openBatch(req.headers, body);
        return send(res, 200, { results: app.applyBatch(entries) });
      }
      const ev = await verifier.open(req.headers, body);
      const [status, answer] = app.apply(ev);
      return send(res, status, answer);
    } catch (err) {
      if (err instanceof Rejection) {
        app.rejections.push({ status: err.status, code: err.code, message: err.message });
        return send(res, err.status, { status: 'error', code: err.code, message: err.message });
      }
      process.stderr.write(`receiver-node: ${err.stack || err}\n`);
      return send(res, 500, { status: 'error', message: 'internal error' });
    }
  });
  server.listen(opts.port, opts.host, () => {
    const a = server.address();
    process.stdout.write(`ready: listening on http://${a.address}:${a.port}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();

module.exports = { Verifier, App, parseEncryptionKey, Rejection };
