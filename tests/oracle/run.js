#!/usr/bin/env node
'use strict';
// ONNX Runtime oracle for torchport's end-to-end tests and benchmarks.
//
//   node run.js MODEL.onnx [IN_DIR OUT_DIR] [options]
//
// Feeds IN_DIR/<input name>.npy to the model's inputs, writes each output to
// OUT_DIR/<output name>.npy plus OUT_DIR/outputs.json (names, files, types, shapes).
// Names are made file-safe by replacing every character outside [A-Za-z0-9._-] with '_'.
//
// Options:
//   --optimize-basic OUT.onnx  also write ORT's offline-optimized model at level 'basic'
//                              (standard ONNX ops only); works without IN_DIR/OUT_DIR
//   --bench N                  run N timed iterations (after --warmup runs) and print
//                              {"median_ms":...} as one JSON line on stdout
//   --warmup K                 untimed runs before --bench (default 3)
//   --threads N                intra-op threads (default: ORT's choice)
//   --opt-level L              disabled|basic|extended|all (default all)
//   --info                     print the model's inputs and outputs as JSON and exit
// Exit codes: 0 success, 1 model/input/runtime error (message on stderr), 2 usage error.

const fs = require('fs');
const path = require('path');
const { readNpy, writeNpy } = require('./npy');

const USAGE = 'usage: node run.js MODEL.onnx [IN_DIR OUT_DIR] [--optimize-basic OUT.onnx] ' +
  '[--bench N] [--warmup K] [--threads N] [--opt-level L] [--info]';

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { positional: [], bench: 0, warmup: 3, threads: 0, optLevel: 'all', info: false, optimizeBasic: null };
  const intArg = (name, value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} needs a non-negative integer, got '${value}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--optimize-basic': opts.optimizeBasic = next(); break;
      case '--bench': opts.bench = intArg(arg, next()); break;
      case '--warmup': opts.warmup = intArg(arg, next()); break;
      case '--threads': opts.threads = intArg(arg, next()); break;
      case '--opt-level': opts.optLevel = next(); break;
      case '--info': opts.info = true; break;
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      default:
        if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
        opts.positional.push(arg);
    }
  }
  if (!['disabled', 'basic', 'extended', 'all'].includes(opts.optLevel)) {
    throw new UsageError(`--opt-level must be disabled|basic|extended|all, got '${opts.optLevel}'`);
  }
  const [model, inDir, outDir, ...extra] = opts.positional;
  if (!model) throw new UsageError('missing MODEL.onnx');
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (inDir && !outDir && opts.bench === 0) throw new UsageError('IN_DIR given without OUT_DIR');
  if (opts.bench > 0 && !inDir) throw new UsageError('--bench needs IN_DIR with the inputs');
  if (!inDir && !opts.info && !opts.optimizeBasic) throw new UsageError('nothing to do: give IN_DIR OUT_DIR, --optimize-basic or --info');
  Object.assign(opts, { model, inDir, outDir });
  return opts;
}

function safeFileName(name) {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (err) {
    throw new Error(`cannot load onnxruntime-node (${err.message.split('\n')[0]}); ` +
      `run 'npm ci --ignore-scripts' in ${__dirname} (scripts/setup.sh does this)`);
  }
}

async function createSession(ort, model, options) {
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (err) {
    throw new Error(`ONNX Runtime could not load ${model}: ${err.message}`);
  }
}

function describeValues(metadata) {
  return metadata.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor' }));
}

function readInputs(ort, session, inDir) {
  if (!fs.existsSync(inDir) || !fs.statSync(inDir).isDirectory()) {
    throw new Error(`input directory ${inDir} does not exist`);
  }
  const available = fs.readdirSync(inDir).filter((f) => f.endsWith('.npy'));
  const feeds = {};
  const used = new Set();
  for (const meta of session.inputMetadata) {
    const file = `${safeFileName(meta.name)}.npy`;
    if (!available.includes(file)) {
      throw new Error(`model input '${meta.name}' has no file ${path.join(inDir, file)}; ` +
        `available: [${available.join(', ')}]. Check the exporter's --input-names.`);
    }
    const arr = readNpy(path.join(inDir, file));
    if (meta.isTensor && meta.type !== arr.ort) {
      throw new Error(`model input '${meta.name}' expects ${meta.type}, but ${file} holds ${arr.ort}`);
    }
    feeds[meta.name] = new ort.Tensor(arr.ort, arr.data, arr.dims);
    used.add(file);
  }
  const unused = available.filter((f) => !used.has(f));
  if (unused.length > 0) {
    // torch.onnx.export drops inputs the graph does not use; that is legal, so only note it.
    process.stderr.write(`note: input files not consumed by the model: ${unused.join(', ')}\n`);
  }
  return feeds;
}

function writeOutputs(session, results, outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const manifest = { outputs: [] };
  for (const name of session.outputNames) {
    const tensor = results[name];
    const file = `${safeFileName(name)}.npy`;
    writeNpy(path.join(outDir, file), tensor.type, tensor.dims, tensor.data);
    manifest.outputs.push({ name, file, type: tensor.type, dims: Array.from(tensor.dims) });
  }
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(manifest, null, 1) + '\n');
}

function median(sorted) {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(opts.model)) throw new Error(`model file ${opts.model} does not exist`);
  const ort = loadOrt();
  const baseOptions = { logSeverityLevel: 3 };
  if (opts.threads > 0) Object.assign(baseOptions, { intraOpNumThreads: opts.threads, interOpNumThreads: 1 });

  if (opts.optimizeBasic) {
    fs.mkdirSync(path.dirname(path.resolve(opts.optimizeBasic)), { recursive: true });
    await createSession(ort, opts.model, {
      ...baseOptions, graphOptimizationLevel: 'basic', optimizedModelFilePath: path.resolve(opts.optimizeBasic),
    });
    if (!fs.existsSync(opts.optimizeBasic)) throw new Error(`ONNX Runtime did not write ${opts.optimizeBasic}`);
  }
  if (!opts.inDir && !opts.info) return;

  const loadStart = process.hrtime.bigint();
  const session = await createSession(ort, opts.model, { ...baseOptions, graphOptimizationLevel: opts.optLevel });
  const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
  if (opts.info) {
    process.stdout.write(JSON.stringify({
      inputs: describeValues(session.inputMetadata), outputs: describeValues(session.outputMetadata),
    }) + '\n');
    if (!opts.inDir) return;
  }

  const feeds = readInputs(ort, session, opts.inDir);
  let results;
  try {
    results = await session.run(feeds);
  } catch (err) {
    throw new Error(`ONNX Runtime failed to run ${opts.model}: ${err.message}`);
  }
  if (opts.outDir) writeOutputs(session, results, opts.outDir);

  if (opts.bench > 0) {
    for (let i = 0; i < opts.warmup; i++) await session.run(feeds);
    const times = [];
    for (let i = 0; i < opts.bench; i++) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    const round = (x) => Math.round(x * 1000) / 1000;
    process.stdout.write(JSON.stringify({
      model: opts.model, iterations: opts.bench, median_ms: round(median(times)),
      min_ms: round(times[0]), max_ms: round(times[times.length - 1]), load_ms: round(loadMs),
    }) + '\n');
  }
}

main().catch((err) => {
  if (err instanceof UsageError) {
    process.stderr.write(`oracle: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`oracle: ${err.message}\n`);
  process.exit(1);
});
