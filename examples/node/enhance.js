#!/usr/bin/env node
// Enhance (or upscale) a photo over gRPC from Node.
//
//   npm ci --prefix examples/node
//   export SMART_IMAGE_ENHANCEMENT_API_KEY=sie_...
//   export ENHANCE_CA=data/tls/ca.pem      # `make run`'s development CA
//   node examples/node/enhance.js photo.jpg enhanced.png
//   node examples/node/enhance.js --scale 4 photo.jpg big.png
//
// @grpc/grpc-js with @grpc/proto-loader, which reads this repository's
// .proto files at start (TypeScript projects may prefer the generated
// gen/ts stubs with @connectrpc/connect-node instead). Field names are
// the proto names in lowerCamelCase: `image`, not the REST JSON name
// `imageBase64`.
//
// Message sizes: gRPC clients refuse answers over 4 MiB unless told
// otherwise, and an image answer can be far larger. So this program shows
// both ways: Enhance (unary) raises the receive limit to the largest
// answer the server sends (MAX_ANSWER_BYTES); --scale uses UpscaleStream,
// which answers in pieces of at most 1 MiB that a client at its default
// limit receives, written as they arrive. --stream enhances through
// EnhanceStream too.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { parseArgs } = require("node:util");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

// The largest answer the server sends (maxResponseBytes in
// internal/app/app.go): 64 megapixels as PNG fit in it.
const MAX_ANSWER_BYTES = 256 << 20;

const PROTO = path.join(__dirname, "..", "..", "proto");

function main() {
  const { values: opts, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      server: { type: "string", default: process.env.ENHANCE_SERVER || "localhost:9443" },
      ca: { type: "string", default: process.env.ENHANCE_CA || "" },
      scale: { type: "string" },
      stream: { type: "boolean", default: false },
      format: { type: "string", default: "png" },
    },
  });
  if (positionals.length !== 2) {
    fail("usage: node enhance.js [--server host:port] [--ca ca.pem] [--scale 2|3|4] [--stream] [--format png|jpeg|webp] input output");
  }
  const [input, output] = positionals;
  const key = process.env.SMART_IMAGE_ENHANCEMENT_API_KEY;
  if (!key) fail("set SMART_IMAGE_ENHANCEMENT_API_KEY to your API key");

  const def = protoLoader.loadSync("smartimage/enhance/v1/image.proto", {
    includeDirs: [path.join(PROTO, "third_party"), PROTO],
    defaults: true,
    longs: Number,
  });
  const { ImageService } = grpc.loadPackageDefinition(def).smartimage.enhance.v1;
  const creds = grpc.credentials.createSsl(opts.ca ? fs.readFileSync(opts.ca) : null);
  const client = new ImageService(opts.server, creds, {
    "grpc.max_receive_message_length": MAX_ANSWER_BYTES,
  });
  const metadata = new grpc.Metadata();
  metadata.set("x-api-key", key);
  let image;
  try {
    image = fs.readFileSync(input);
  } catch (err) {
    fail(`cannot read ${input}: ${err.message}`);
  }
  let finished = false;
  const done = (err, desc, header) => {
    if (finished) return;
    finished = true;
    client.close();
    if (err) {
      // The status says what went wrong: UNAUTHENTICATED (the key),
      // INVALID_ARGUMENT (the image or an option), RESOURCE_EXHAUSTED
      // (credits or the rate limit), ...
      fail(`${grpc.status[err.code] || err.code}: ${err.details || err.message}`);
    }
    const charged = header.get("x-credits-charged")[0] || "0";
    const left = header.get("x-credits-remaining")[0] || "?";
    console.log(`wrote ${output}: ${desc.widthPixels}x${desc.heightPixels}, ${charged} credit(s) charged, ${left} left`);
  };

  if (opts.scale) {
    const request = { image, scaleFactor: Number(opts.scale), outputFormat: opts.format };
    receive(client.UpscaleStream({ request }, metadata), output, done);
  } else if (opts.stream) {
    const request = { image, outputFormat: opts.format };
    receive(client.EnhanceStream({ request }, metadata), output, done);
  } else {
    let header = new grpc.Metadata();
    const call = client.Enhance({ image, outputFormat: opts.format }, metadata, (err, resp) => {
      if (!err) fs.writeFileSync(output, resp.image.data);
      done(err, resp, header);
    });
    call.on("metadata", (md) => { header = md; });
  }
}

// receive writes a streamed image to output as its pieces arrive, then
// calls done with the first piece's description of it.
function receive(call, output, done) {
  const file = fs.createWriteStream(output);
  let desc = null;
  let header = new grpc.Metadata();
  let written = 0;
  call.on("metadata", (md) => { header = md; });
  call.on("data", (piece) => {
    if (desc === null) desc = piece.image;
    written += piece.data.length;
    if (!file.write(piece.data)) {
      call.pause();
      file.once("drain", () => call.resume());
    }
  });
  // A failed call emits "error" then "status"; one that succeeded emits
  // "status", and "end" once its last piece has been read.
  let error = null;
  let status = null;
  let ended = false;
  const finish = () => {
    if (status === null || (!error && !ended)) return;
    file.end(() => {
      if (error) return done(error);
      if (desc === null || written !== desc.totalBytes) {
        return done({ code: grpc.status.DATA_LOSS, details: "the stream ended early" });
      }
      done(null, desc, header);
    });
  };
  call.on("error", (err) => { error = err; });
  call.on("status", (st) => { status = st; finish(); });
  call.on("end", () => { ended = true; finish(); });
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

main();
