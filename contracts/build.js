// Compiles contracts/src/*.sol offline with the pinned solc-js and writes contracts/artifacts/<Name>.json
// (abi, bytecode, deployed bytecode, compiler version, sha256 of every source). Run: npm run build
// (or `node build.js --check` to fail when the committed artifacts disagree with the sources).
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const solc = require("solc");

const SRC = path.join(__dirname, "src");
const OUT = path.join(__dirname, "artifacts");
const check = process.argv.includes("--check");

const files = fs.readdirSync(SRC).filter((f) => f.endsWith(".sol")).sort();
const sources = {};
const hashes = {};
for (const f of files) {
  const text = fs.readFileSync(path.join(SRC, f), "utf8");
  sources[f] = { content: text };
  hashes[f] = crypto.createHash("sha256").update(text).digest("hex");
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

let stale = 0;
fs.mkdirSync(OUT, { recursive: true });
for (const f of files) {
  for (const [name, c] of Object.entries(output.contracts[f] || {})) {
    if (!c.evm.bytecode.object) continue; // interfaces: nothing to deploy
    const artifact = {
      contractName: name,
      sourceName: `src/${f}`,
      compiler: solc.version(),
      settings: { optimizer: input.settings.optimizer, viaIR: true, evmVersion: input.settings.evmVersion },
      sourceHashes: hashes,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artifact, null, 2) + "\n";
    const target = path.join(OUT, `${name}.json`);
    if (check) {
      if (!fs.existsSync(target) || fs.readFileSync(target, "utf8") !== text) {
        console.error(`stale artifact: ${target}`);
        stale += 1;
      }
    } else {
      fs.writeFileSync(target, text);
      console.log(`wrote ${path.relative(process.cwd(), target)}`);
    }
  }
}
process.exit(stale ? 1 : 0);
