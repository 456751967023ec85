// A tiny protobuf writer and reader, enough to build OTLP requests byte by byte
// (including ones a normal encoder refuses to make, such as invalid UTF-8 in a
// string field) and to read google.rpc.Status and ExportTraceServiceResponse.

const kVarint = 0;
const kFixed64 = 1;
const kLengthDelimited = 2;
const kFixed32 = 5;

function varintBytes(value) {
  let v = BigInt.asUintN(64, BigInt(value));
  const out = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

export class PbWriter {
  constructor() {
    this.parts = [];
  }
  tag(field, wire) {
    this.parts.push(varintBytes((field << 3) | wire));
    return this;
  }
  varint(field, value) {
    this.tag(field, kVarint);
    this.parts.push(varintBytes(value));
    return this;
  }
  bool(field, value) {
    return this.varint(field, value ? 1 : 0);
  }
  fixed64(field, value) {
    this.tag(field, kFixed64);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)));
    this.parts.push(b);
    return this;
  }
  double(field, value) {
    this.tag(field, kFixed64);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.parts.push(b);
    return this;
  }
  fixed32(field, value) {
    this.tag(field, kFixed32);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    this.parts.push(b);
    return this;
  }
  // bytes or string: a Buffer is written as is, a string as UTF-8.
  bytes(field, value) {
    const b = Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
    this.tag(field, kLengthDelimited);
    this.parts.push(varintBytes(b.length), b);
    return this;
  }
  // A nested message: fill(writer) writes its fields.
  message(field, fill) {
    const inner = new PbWriter();
    fill(inner);
    return this.bytes(field, inner.finish());
  }
  finish() {
    return Buffer.concat(this.parts);
  }
}

// Decodes one message level into [{field, wire, value}] (value: BigInt for
// varint/fixed, Buffer for length-delimited). Throws on malformed input.
export function pbFields(buf) {
  const fields = [];
  let pos = 0;
  const readVarint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const byte = buf[pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (pos < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wire = key & 7;
    let value;
    if (wire === kVarint) {
      value = readVarint();
    } else if (wire === kFixed64) {
      if (pos + 8 > buf.length) throw new Error('truncated fixed64');
      value = buf.readBigUInt64LE(pos);
      pos += 8;
    } else if (wire === kLengthDelimited) {
      const len = Number(readVarint());
      if (pos + len > buf.length) throw new Error('truncated bytes');
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === kFixed32) {
      if (pos + 4 > buf.length) throw new Error('truncated fixed32');
      value = BigInt(buf.readUInt32LE(pos));
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
    fields.push({ field, wire, value });
  }
  return fields;
}

// google.rpc.Status {int32 code = 1; string message = 2; repeated Any details = 3}
export function decodeRpcStatus(buf) {
  const out = { code: 0, message: '' };
  for (const f of pbFields(buf)) {
    if (f.field === 1 && f.wire === kVarint) out.code = Number(BigInt.asIntN(32, f.value));
    if (f.field === 2 && f.wire === kLengthDelimited) out.message = f.value.toString('utf8');
  }
  return out;
}

// ExportTraceServiceResponse {ExportTracePartialSuccess partial_success = 1}
// ExportTracePartialSuccess {int64 rejected_spans = 1; string error_message = 2}
export function decodeExportResponse(buf) {
  const out = { rejectedSpans: 0, errorMessage: '', hasPartialSuccess: false };
  for (const f of pbFields(buf)) {
    if (f.field !== 1 || f.wire !== kLengthDelimited) continue;
    out.hasPartialSuccess = true;
    for (const g of pbFields(f.value)) {
      if (g.field === 1 && g.wire === kVarint) out.rejectedSpans = Number(BigInt.asIntN(64, g.value));
      if (g.field === 2 && g.wire === kLengthDelimited) out.errorMessage = g.value.toString('utf8');
    }
  }
  return out;
}

// --- OTLP encoding ---------------------------------------------------------

// AnyValue from a JS value: string, boolean, BigInt/integer -> int, other
// number -> double, array -> array_value.
function writeAnyValue(w, v) {
  if (typeof v === 'string' || Buffer.isBuffer(v)) w.bytes(1, v);
  else if (typeof v === 'boolean') w.bool(2, v);
  else if (typeof v === 'bigint' || Number.isInteger(v)) w.varint(3, v);
  else if (typeof v === 'number') w.double(4, v);
  else if (Array.isArray(v)) w.message(5, (a) => v.forEach((x) => a.message(1, (e) => writeAnyValue(e, x))));
  else throw new Error(`unsupported attribute value ${v}`);
}

function writeAttributes(w, field, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    w.message(field, (kv) => {
      kv.bytes(1, key);
      kv.message(2, (av) => writeAnyValue(av, value));
    });
  }
}

// An ExportTraceServiceRequest. `resources` is
// [{attributes: {...}, spans: [{traceId: Buffer, spanId: Buffer, parentSpanId?,
//   name: string|Buffer, kind, startNs: BigInt, endNs: BigInt, attributes,
//   attributeList?: [[key, value]...]}]}].
export function encodeExportRequest(resources) {
  const w = new PbWriter();
  for (const r of resources) {
    w.message(1, (rs) => {
      rs.message(1, (res) => writeAttributes(res, 1, r.attributes));
      rs.message(2, (ss) => {
        ss.message(1, (scope) => scope.bytes(1, 'ariadne-itest'));
        for (const s of r.spans) {
          ss.message(2, (sp) => {
            sp.bytes(1, s.traceId);
            sp.bytes(2, s.spanId);
            if (s.parentSpanId) sp.bytes(4, s.parentSpanId);
            sp.bytes(5, s.name);
            sp.varint(6, s.kind ?? 1);
            sp.fixed64(7, s.startNs);
            sp.fixed64(8, s.endNs);
            writeAttributes(sp, 9, s.attributes);
            for (const [key, value] of s.attributeList || []) {
              sp.message(9, (kv) => {
                kv.bytes(1, key);
                kv.message(2, (av) => writeAnyValue(av, value));
              });
            }
          });
        }
      });
    });
  }
  return w.finish();
}
