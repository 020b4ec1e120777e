// Independent check of the message contract: compiles every schema in
// schemas/ with Ajv (draft 2020-12, strict mode) and checks that every
// tests/fixtures/corpus/<schema>/valid/*.json validates and every
// invalid/*.json does not. The C validator runs the same corpus in
// tests/unit/test_schema.c; a disagreement means one of them is wrong.
//
// Ajv is resolved from MOTCUA_AJV_MODULES (a node_modules directory prepared
// by ajv.sh outside the source tree), else from beside this file.
import { createRequire } from "node:module";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const schemaDir = path.join(root, "schemas");
const corpusDir = path.join(root, "tests", "fixtures", "corpus");

const modules = process.env.MOTCUA_AJV_MODULES || path.join(here, "node_modules");
const require = createRequire(path.join(modules, "..", "resolve-from-here.js"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

const ajv = new Ajv2020({
    strict: true,          // unknown keywords, ambiguous types, missing required props are errors
    allowUnionTypes: true, // the schemas use ["string", "null"]
    allErrors: true,
    validateFormats: true,
});
addFormats(ajv);

let failures = 0;
function fail(msg) {
    failures++;
    console.error("ajv: " + msg);
}

function readJson(file) {
    return JSON.parse(readFileSync(file, "utf8"));
}

const SUFFIX = ".schema.json";
const validators = new Map();
for (const file of readdirSync(schemaDir).filter((f) => f.endsWith(SUFFIX)).sort()) {
    const name = file.slice(0, -SUFFIX.length);
    try {
        const schema = readJson(path.join(schemaDir, file));
        const expectedId = `https://motcua.example/schemas/${file}`;
        if (schema.$id !== expectedId)
            fail(`${file}: $id is ${JSON.stringify(schema.$id)}, expected ${expectedId}`);
        validators.set(name, ajv.compile(schema));
    } catch (e) {
        fail(`${file}: does not compile: ${e.message}`);
    }
}

let examples = 0;
const seen = new Set();
for (const name of readdirSync(corpusDir).sort()) {
    const validate = validators.get(name);
    if (!validate) {
        fail(`corpus/${name}: no schema schemas/${name}${SUFFIX}`);
        continue;
    }
    seen.add(name);
    for (const expect of ["valid", "invalid"]) {
        const dir = path.join(corpusDir, name, expect);
        const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
        if (files.length === 0)
            fail(`corpus/${name}/${expect}: no examples`);
        for (const file of files) {
            const rel = `corpus/${name}/${expect}/${file}`;
            examples++;
            let doc;
            try {
                doc = readJson(path.join(dir, file));
            } catch (e) {
                fail(`${rel}: not JSON: ${e.message}`);
                continue;
            }
            const ok = validate(doc);
            if (expect === "valid" && !ok)
                fail(`${rel}: disagreement: should be valid, ajv says ${ajv.errorsText(validate.errors)}`);
            else if (expect === "invalid" && ok)
                fail(`${rel}: disagreement: should be invalid, ajv accepts it`);
        }
    }
}
for (const name of validators.keys())
    if (!seen.has(name))
        fail(`schemas/${name}${SUFFIX}: no corpus under tests/fixtures/corpus/${name}`);

// The AsyncAPI document must point at every schema (a plain text check:
// the document's structure is validated when it is edited).
const asyncapi = readFileSync(path.join(schemaDir, "asyncapi.yaml"), "utf8");
for (const name of validators.keys())
    if (!asyncapi.includes(`$ref: './${name}${SUFFIX}'`))
        fail(`schemas/asyncapi.yaml: no message refers to ${name}${SUFFIX}`);

console.log(`ajv: ${validators.size} schemas, ${examples} examples, ${failures} disagreements`);
process.exit(failures === 0 ? 0 : 1);
