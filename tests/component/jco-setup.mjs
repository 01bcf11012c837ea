// jco-setup.mjs -- loaded by `jco run --jco-import` in run-components.py so the reference run under
// node gets exactly the grants kapsul gets: preopens from JCO_PREOPENS ("HOST::GUEST" entries
// separated by ";") and an environment of only the variables listed in JCO_ENV ("K=V" entries
// separated by ";"), instead of node's whole environment and no directories.
import { _setEnv } from "@bytecodealliance/preview2-shim/cli";
import { _setPreopens } from "@bytecodealliance/preview2-shim/filesystem";

const split = (s) => (s ? s.split(";").filter((e) => e.length > 0) : []);
const preopens = {};
for (const entry of split(process.env.JCO_PREOPENS)) {
    const sep = entry.indexOf("::");
    preopens[entry.slice(sep + 2)] = entry.slice(0, sep);
}
_setPreopens(preopens);
const env = {};
for (const entry of split(process.env.JCO_ENV)) {
    const sep = entry.indexOf("=");
    env[entry.slice(0, sep)] = entry.slice(sep + 1);
}
_setEnv(env);
