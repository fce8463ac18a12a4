// Validates an OpenAPI document, by URL or file, against the OpenAPI 3.1
// JSON schema (@seriousme/openapi-schema-validator), as internal/app's
// TestOpenAPIClient runs it: node validate.mjs https://localhost:8443/openapi.json
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const where = process.argv[2];
if (!where) {
  console.error("usage: node validate.mjs URL-or-file");
  process.exit(2);
}
const doc = where.startsWith("https://") ? await (await fetch(where)).json() : JSON.parse(readFileSync(where, "utf8"));
const validator = new Validator();
const result = await validator.validate(doc);
if (validator.version !== "3.1" || !result.valid) {
  console.error(`not a valid OpenAPI 3.1 document (version ${validator.version}):`);
  console.error(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
console.log(`${where}: valid OpenAPI 3.1`);
