// The package's public surface, read from the source by TypeScript's parser (tests/js has
// it pinned): `node scripts/sdk_surface.mjs` prints JSON
//
//   {"page":   {"exports": [...], "api": ["capabilities", "identity.create", ...]},
//    "worker": {"exports": [...], "api": ["activate", "handleFetch", ...]},
//    "types":  {"exports": [...], "MeshKit": [...], "MeshKitWorker": [...],
//               "interfaces": {"Identity": {"required": [...], "optional": [...], "open": false}, ...}}}
//
// page.api: every key of the object sdk/meshkit.js's makeApi returns (what createMeshKit
// resolves to), nested objects as "a.b"; worker.api: the same for createMeshKitWorker's
// object; exports: each module's exported values. types: the same read from sdk/index.d.ts
// (the members of interfaces MeshKit and MeshKitWorker, and its exported values).
// tests/sdk/test_sdk_docs.py compares them, and looks each one up in docs/SDK.md.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const ts = createRequire(join(ROOT, "tests", "js", "package.json"))("typescript");

function parse(path) {
  const text = readFileSync(join(ROOT, path), "utf8");
  const kind = path.endsWith(".d.ts") ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  return ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, kind);
}

const fail = (message) => { throw new Error(message); };
const nameOf = (node) => (node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))
  ? node.name.text : fail(`a computed key at ${node.getText().slice(0, 60)}`));

// The keys of an object literal, nested literals as "a.b".
function objectKeys(literal, prefix = "") {
  const keys = [];
  for (const property of literal.properties) {
    if (ts.isSpreadAssignment(property)) fail(`a spread in the API object: ${property.getText().slice(0, 60)}`);
    const key = prefix + nameOf(property);
    if (ts.isPropertyAssignment(property) && ts.isObjectLiteralExpression(property.initializer)) {
      keys.push(...objectKeys(property.initializer, key + "."));
    } else {
      keys.push(key);
    }
  }
  return keys;
}

// The object literal a top-level function returns last.
function returnedObject(file, functionName) {
  const fn = file.statements.find((s) => ts.isFunctionDeclaration(s) && s.name && s.name.text === functionName);
  if (!fn) fail(`${file.fileName} has no function ${functionName}`);
  const returns = fn.body.statements.filter(ts.isReturnStatement);
  const last = returns[returns.length - 1];
  if (!last || !last.expression || !ts.isObjectLiteralExpression(last.expression)) {
    fail(`${functionName} in ${file.fileName} does not end by returning an object literal`);
  }
  return last.expression;
}

const exported = (node) => (ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export) !== 0;

// Exported values (not types) of a module: export {a, b}; export function/class/const.
function valueExports(file) {
  const names = [];
  for (const statement of file.statements) {
    if (ts.isExportDeclaration(statement) && !statement.isTypeOnly && statement.exportClause
        && ts.isNamedExports(statement.exportClause)) {
      names.push(...statement.exportClause.elements.filter((e) => !e.isTypeOnly).map((e) => e.name.text));
    } else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && exported(statement)) {
      names.push(statement.name.text);
    } else if (ts.isVariableStatement(statement) && exported(statement)) {
      names.push(...statement.declarationList.declarations.map((d) => d.name.text));
    }
  }
  return [...new Set(names)].sort();
}

// The members of an interface; a member whose type is a literal of methods only (identity,
// devices, ...) as its methods, "a.b" (a literal of data, such as timings, is one member).
function interfaceKeys(file, interfaceName) {
  const node = file.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === interfaceName);
  if (!node) fail(`${file.fileName} has no interface ${interfaceName}`);
  const walk = (members, prefix) => members.flatMap((member) => {
    const key = prefix + nameOf(member);
    return ts.isPropertySignature(member) && member.type && ts.isTypeLiteralNode(member.type)
        && member.type.members.every(ts.isMethodSignature) ? walk(member.type.members, key + ".") : [key];
  });
  return walk(node.members, "");
}

// Every interface of the file, its members flattened through `extends` (within the file):
// {name: {required: [...], optional: [...], open: true when it has an index signature}}.
function interfaces(file) {
  const declared = new Map(file.statements.filter(ts.isInterfaceDeclaration).map((node) => [node.name.text, node]));
  const flat = (node) => {
    const members = new Map();
    for (const clause of node.heritageClauses || []) {
      for (const type of clause.types) {
        const base = declared.get(type.expression.getText());
        if (base) for (const [key, value] of flat(base)) members.set(key, value);
      }
    }
    for (const member of node.members) {
      if (ts.isIndexSignatureDeclaration(member)) members.set("[index]", "open");
      else members.set(nameOf(member), member.questionToken ? "optional" : "required");
    }
    return members;
  };
  return Object.fromEntries([...declared].map(([name, node]) => {
    const members = [...flat(node)];
    const pick = (kind) => members.filter(([key, value]) => value === kind && key !== "[index]").map(([key]) => key).sort();
    return [name, { required: pick("required"), optional: pick("optional"), open: members.some(([k]) => k === "[index]") }];
  }));
}

const page = parse("sdk/meshkit.js");
const worker = parse("sdk/meshkit-sw.js");
const types = parse("sdk/index.d.ts");
console.log(JSON.stringify({
  page: { exports: valueExports(page), api: objectKeys(returnedObject(page, "makeApi")).sort() },
  worker: { exports: valueExports(worker), api: objectKeys(returnedObject(worker, "createMeshKitWorker")).sort() },
  types: { exports: valueExports(types), MeshKit: interfaceKeys(types, "MeshKit").sort(),
    MeshKitWorker: interfaceKeys(types, "MeshKitWorker").sort(), interfaces: interfaces(types) },
}, null, 1));
