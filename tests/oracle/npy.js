'use strict';
// Minimal .npy (NumPy format v1/v2/v3) reader and writer: the exchange format between the
// Python fixture generator / comparer and this ONNX Runtime oracle. Only what the tests use:
// little-endian, C order, numeric and bool dtypes. Anything else is refused with the reason.

const fs = require('fs');

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"

// numpy descr (without byte-order char) <-> ONNX Runtime tensor type and JS typed array.
// float16 has no JS typed array before Node 22: ORT takes and returns its raw bits as Uint16Array.
const DTYPES = [
  { descr: 'f4', ort: 'float32', array: Float32Array },
  { descr: 'f8', ort: 'float64', array: Float64Array },
  { descr: 'f2', ort: 'float16', array: Uint16Array },
  { descr: 'i8', ort: 'int64', array: BigInt64Array },
  { descr: 'i4', ort: 'int32', array: Int32Array },
  { descr: 'i2', ort: 'int16', array: Int16Array },
  { descr: 'i1', ort: 'int8', array: Int8Array },
  { descr: 'u8', ort: 'uint64', array: BigUint64Array },
  { descr: 'u4', ort: 'uint32', array: Uint32Array },
  { descr: 'u2', ort: 'uint16', array: Uint16Array },
  { descr: 'u1', ort: 'uint8', array: Uint8Array },
  { descr: 'b1', ort: 'bool', array: Uint8Array },
];

function dtypeFromDescr(descr, file) {
  // '<f4', '|b1', '|u1', '=f4' are all accepted; big-endian is not.
  const order = descr[0];
  const body = '<>|='.includes(order) ? descr.slice(1) : descr;
  if (order === '>') {
    throw new Error(`${file}: big-endian dtype '${descr}' is not supported; save with a little-endian dtype (arr.astype('<${body}'))`);
  }
  const found = DTYPES.find((d) => d.descr === body);
  if (!found) {
    throw new Error(`${file}: numpy dtype '${descr}' is not supported; use one of ${DTYPES.map((d) => d.descr).join(', ')}`);
  }
  return found;
}

function dtypeFromOrt(ortType) {
  const found = DTYPES.find((d) => d.ort === ortType);
  if (!found) {
    throw new Error(`ONNX Runtime tensor type '${ortType}' cannot be written as .npy`);
  }
  return found;
}

// Parses the Python-literal header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
function parseHeader(text, file) {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) {
    throw new Error(`${file}: malformed .npy header: ${JSON.stringify(text)}`);
  }
  if (fortran[1] === 'True') {
    throw new Error(`${file}: Fortran-ordered arrays are not supported; save np.ascontiguousarray(arr)`);
  }
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    const n = Number(s.replace(/L$/, ''));
    if (!Number.isInteger(n) || n < 0) throw new Error(`${file}: bad dimension '${s}' in .npy shape`);
    return n;
  });
  return { descr: descr[1], dims };
}

/** Reads a .npy file. Returns { ort: 'float32', dims: [..], data: TypedArray }. */
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    throw new Error(`${file}: not a .npy file (missing \\x93NUMPY magic)`);
  }
  const major = buf[6];
  let headerLen;
  let headerStart;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    headerStart = 12;
  } else {
    throw new Error(`${file}: unsupported .npy format version ${major}`);
  }
  const header = parseHeader(buf.toString('latin1', headerStart, headerStart + headerLen), file);
  const dtype = dtypeFromDescr(header.descr, file);
  const count = header.dims.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const byteLength = count * dtype.array.BYTES_PER_ELEMENT;
  if (buf.length - dataStart !== byteLength) {
    throw new Error(`${file}: expected ${byteLength} data bytes for shape [${header.dims}] '${header.descr}', found ${buf.length - dataStart}`);
  }
  // Copy into a fresh, aligned buffer (the file buffer's data offset need not be aligned).
  const aligned = new ArrayBuffer(byteLength);
  new Uint8Array(aligned).set(buf.subarray(dataStart, dataStart + byteLength));
  return { ort: dtype.ort, dims: header.dims, data: new dtype.array(aligned) };
}

/** Writes a typed array as .npy (format 1.0, header padded to 64 bytes as numpy does). */
function writeNpy(file, ortType, dims, data) {
  const dtype = dtypeFromOrt(ortType);
  const order = dtype.array.BYTES_PER_ELEMENT === 1 ? '|' : '<';
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${order}${dtype.descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  MAGIC.copy(prefix, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]));
}

module.exports = { readNpy, writeNpy, DTYPES };
