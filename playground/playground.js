// The page only draws: every number comes from microgradx, running in Pyodide.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const $ = (id) => document.getElementById(id);
const state = { ready: false, training: false, status: null, step: null };
window.playground = state; // read by the tests

let py;

function call(expression) {
  // Run one Python expression that returns JSON text, and parse it.
  return JSON.parse(py.runPython(`to_json(${expression})`));
}

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

async function start() {
  const started = performance.now();
  py = await loadPyodide({ indexURL: new URL("./pyodide/", location.href).href });
  const manifest = await (await fetch("manifest.json")).json();
  const wheel = await (await fetch(manifest.wheel)).arrayBuffer();
  const sitePackages = py.runPython("import site; site.getsitepackages()[0]");
  py.unpackArchive(new Uint8Array(wheel), "wheel", { extractDir: sitePackages });
  py.runPython("import json\nfrom microgradx.playground import Session, run_snippet, to_json");
  state.readySeconds = (performance.now() - started) / 1000;
  state.version = py.runPython("import microgradx; microgradx.__version__");
  for (const id of ["reset", "train", "step", "run"]) $(id).disabled = false;
  newSession();
  state.ready = true;
  document.body.dataset.ready = "1";
  setStatus(`Ready in ${state.readySeconds.toFixed(1)} s: microgradx ${state.version} on Python ${py.runPython("import sys; sys.version.split()[0]")}.`);
}

function settings() {
  return {
    dataset: $("dataset").value,
    hidden: $("hidden").value,
    activation: $("activation").value,
    lr: Number($("lr").value),
    optimizer: $("optimizer").value,
  };
}

function newSession() {
  try {
    // a small network is readable op by op; a larger one neuron by neuron
    const units = $("hidden").value.split(",").reduce((sum, n) => sum + (Number(n) || 0), 0);
    $("level").value = units <= 4 ? "op" : "neuron";
    py.globals.set("settings_json", JSON.stringify(settings()));
    py.runPython("S = Session(**json.loads(settings_json))");
    state.status = call("S.status()");
    draw();
    setStatus("A new network: press train.");
  } catch (error) {
    setStatus(String(error.message || error).split("\n").filter(Boolean).pop(), true);
  }
}

async function train(epochs) {
  if (state.training) return;
  state.training = true;
  $("train").disabled = true;
  try {
    for (let k = 0; k < epochs; k++) {
      state.status = call("S.train(1)");
      if (k % 5 === 4 || k === epochs - 1) draw();
      else drawNumbers();
      await new Promise((resolve) => setTimeout(resolve, 0)); // let the page repaint
    }
  } finally {
    state.training = false;
    $("train").disabled = false;
  }
}

function drawNumbers() {
  const s = state.status;
  $("epochs").textContent = String(s.epochs);
  $("accuracy").textContent = s.epochs ? (100 * s.accuracy).toFixed(1) + "%" : "-";
  const last = s.epoch_seconds[s.epoch_seconds.length - 1];
  $("epoch-time").textContent = last === undefined ? "-" : (1000 * last).toFixed(0) + " ms";
  document.body.dataset.accuracy = String(s.accuracy);
  document.body.dataset.epochs = String(s.epochs);
}

function draw() {
  drawNumbers();
  const b = call("S.boundary(30)");
  const canvas = $("boundary"), ctx = canvas.getContext("2d");
  const n = b.grid.length, cell = canvas.width / n;
  const [x0, x1, y0, y1] = b.bounds;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const s = Math.tanh(b.grid[r][c]); // -1..1
      const strength = Math.round(255 - 110 * Math.abs(s));
      ctx.fillStyle = s > 0 ? `rgb(${strength},${strength},255)` : `rgb(255,${strength},${Math.round(strength * 0.7)})`;
      ctx.fillRect(c * cell, r * cell, cell + 1, cell + 1);
    }
  }
  b.points.forEach(([x, y], i) => {
    ctx.beginPath();
    ctx.arc(((x - x0) / (x1 - x0)) * canvas.width, ((y1 - y) / (y1 - y0)) * canvas.height, 3, 0, 7);
    ctx.fillStyle = b.labels[i] ? "#1f55b4" : "#e06c00";
    ctx.fill();
  });
  const losses = state.status.losses;
  const top = Math.max(...losses, 1e-9);
  const points = losses.map((l, i) => `${(i / Math.max(1, losses.length - 1)) * 310 + 5},${195 - (l / top) * 185}`);
  $("curve").innerHTML = `<polyline fill="none" stroke="#1f55b4" stroke-width="2" points="${points.join(" ")}"/>`;
}

function stepThrough() {
  try {
    const level = $("level").value;
    const step = call(`S.step_through(${Number($("example").value)}, ${JSON.stringify(level)})`);
    state.step = step;
    $("network").innerHTML = step.network;
    const box = $("stepper");
    box.innerHTML = step.html;
    // innerHTML does not run scripts: run the step-through's own script now that it is in place
    for (const script of box.querySelectorAll("script:not([type])")) new Function(script.textContent)();
    setStatus(`${step.steps} steps: use the buttons or click it and use the arrow keys.`);
  } catch (error) {
    setStatus(String(error.message || error).split("\n").filter(Boolean).pop(), true);
  }
}

function runCode() {
  try {
    py.globals.set("snippet", $("code").value);
    $("output").textContent = py.runPython("run_snippet(snippet)");
  } catch (error) {
    $("output").textContent = String(error.message || error);
  }
}

$("reset").addEventListener("click", newSession);
$("train").addEventListener("click", () => train(10));
$("step").addEventListener("click", stepThrough);
$("run").addEventListener("click", runCode);
state.train = train; // for the tests: train(n) returns when done
start().catch((error) => setStatus("Could not start: " + error, true));
