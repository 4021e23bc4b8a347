// Bundle the graph view into the Python package, and stamp what it was built from.
//
// Output (committed, shipped inside the wheel):
//   src/portway/ui/static/portway-graph.js   one minified IIFE: window.PortwayGraph
//   src/portway/ui/static/portway-graph.css  its styles
// and web/build-stamp.json: the sha256 of every input and output. tests/graph/test_html.py
// recomputes the input hashes and fails with "run make ui" when a source changed after
// the last build, so the committed bundle can never silently lag its sources.

import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const web = dirname(dirname(fileURLToPath(import.meta.url)));
const staticDir = join(web, "..", "src", "portway", "ui", "static");

const common = {
  bundle: true,
  minify: true,
  legalComments: "eof",
  logLevel: "warning",
  // Chrome/Firefox/Safari of the last few years: no transpiling of what they all run.
  target: ["es2020"],
};

// The MIT licence asks for its notice in every copy: esbuild keeps only a pointer to
// dagre's LEGAL.txt, which is not shipped, so the notices go at the end of the bundle.
const notices = ["@dagrejs/dagre", "@dagrejs/graphlib"].map((name) => {
  const version = JSON.parse(readFileSync(join(web, "node_modules", name, "package.json"))).version;
  const license = readFileSync(join(web, "node_modules", name, "LICENSE"), "utf8").trim();
  return `${name} ${version}\n\n${license}`;
});

await esbuild.build({
  ...common,
  entryPoints: [join(web, "src", "graph-view.js")],
  format: "iife",
  legalComments: "none",
  footer: { js: `/*! portway graph view. Bundled third-party licences:\n\n${notices.join("\n\n")}\n*/` },
  outfile: join(staticDir, "portway-graph.js"),
});
await esbuild.build({
  ...common,
  entryPoints: [join(web, "src", "graph-view.css")],
  outfile: join(staticDir, "portway-graph.css"),
});

function sha256(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

// Inputs: what decides the bundle's bytes. Keep this list in step with
// tests/graph/test_html.py::_build_inputs.
function inputs() {
  const files = ["package.json", "package-lock.json", "scripts/build.mjs"];
  for (const name of readdirSync(join(web, "src")).sort()) files.push(`src/${name}`);
  return files;
}

const stamp = {
  note: "written by `npm run build` (make ui); checked by tests/graph/test_html.py",
  inputs: Object.fromEntries(inputs().map((file) => [file, sha256(join(web, file))])),
  outputs: Object.fromEntries(
    ["portway-graph.js", "portway-graph.css"].map((name) => [
      relative(join(web, ".."), join(staticDir, name)),
      sha256(join(staticDir, name)),
    ]),
  ),
};
writeFileSync(join(web, "build-stamp.json"), JSON.stringify(stamp, null, 2) + "\n");
for (const [file, digest] of Object.entries(stamp.outputs)) {
  const size = readFileSync(join(web, "..", file)).length;
  console.log(`${file}  ${(size / 1024).toFixed(1)} KiB  sha256 ${digest.slice(0, 12)}`);
}
