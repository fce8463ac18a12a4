// A client of Smart Image Enhancement generated from its /openapi.json:
//
//   npx openapi-typescript https://localhost:8443/openapi.json --output api.d.ts
//
// and used through openapi-fetch. It enhances a photo from a raw upload,
// writes the image, reads a dry run's quote, and reads the detail of a 402
// from a key whose account has no credits left. It prints one JSON line
// of what it saw, which internal/app's TestOpenAPIClient checks.
import { readFileSync, writeFileSync } from "node:fs";
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Problem = components["schemas"]["Problem"];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`set ${name}`);
  return v;
}

const client = createClient<paths>({ baseUrl: env("ENHANCE_BASE_URL") });
const photo = readFileSync(env("PHOTO"));

// openapi-typescript types a raw body's schema (a string of bytes) as a
// TypeScript string; the bytes go out as they are.
const raw = { body: photo as unknown as string, bodySerializer: (b: unknown) => b as BodyInit };

// A raw upload: the body is the photo, the options are query parameters.
const enhanced = await client.POST("/v1/enhance", {
  params: { query: { outputFormat: "webp", quality: 85 } },
  headers: { "x-api-key": env("SMART_IMAGE_ENHANCEMENT_API_KEY"), "Content-Type": "image/jpeg" },
  ...raw,
  parseAs: "arrayBuffer",
});
if (enhanced.error) {
  throw new Error(`enhance failed: ${enhanced.response.status} ${enhanced.error.code}: ${enhanced.error.detail}`);
}
const contentType = enhanced.response.headers.get("Content-Type");
if (!contentType?.startsWith("image/")) throw new Error(`not an image: ${contentType}`);
writeFileSync(env("OUTPUT"), Buffer.from(enhanced.data));

// The documented JSON request, as a dry run: a quote, nothing charged.
const quoted = await client.POST("/v1/enhance", {
  headers: { "x-api-key": env("SMART_IMAGE_ENHANCEMENT_API_KEY") },
  body: { imageBase64: photo.toString("base64"), enhancementType: "general", outputFormat: "png", dryRun: true },
});
if (quoted.error || typeof quoted.data !== "object") throw new Error("no quote");
const quote: components["schemas"]["Quote"] = quoted.data;

// Out of credits: a 402 whose problem says when credits renew.
const broke = await client.POST("/v1/enhance", {
  headers: { "x-api-key": env("BROKE_API_KEY"), "Content-Type": "image/jpeg" },
  ...raw,
  parseAs: "arrayBuffer",
});
if (!broke.error) throw new Error("an account with no credits was served");
const problem: Problem = broke.error;

console.log(
  JSON.stringify({
    contentType,
    bytes: enhanced.data.byteLength,
    width: enhanced.response.headers.get("X-Image-Width"),
    creditsRemaining: enhanced.response.headers.get("X-Credits-Remaining"),
    quoteCredits: quote.credits,
    status402: broke.response.status,
    code402: problem.code,
    detail402: problem.detail,
  }),
);
