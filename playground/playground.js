// The page only draws: every number comes from microgradx, running in Pyodide. Every call goes
// through microgradx.playground.handle (JSON in, JSON out); text is written with textContent, and
// the pictures microgradx draws are parsed as markup, never as script.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const $ = (id) => document.getElementById(id);
const state = { ready: false, training: false, status: null, step: null, error: null };
window.playground = state; // read by the tests

let py;

class CallError extends Error {}

function call(name, args = {}) {
  // One call to Python; its answer is strict JSON: {value} or {error: one line}.
  py.globals.set("request_json", JSON.stringify({ call: name, args }));
  const answer = JSON.parse(py.runPython("handle(request_json)"));
  if (answer.detail) console.warn(answer.detail);
  if ("error" in answer) throw new CallError(answer.error);
  return answer.value;
}

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
  state.error = error ? text : null;
  document.body.dataset.error = error ? "1" : "";
}

function showError(error) {
  // A refused setting or a failed call: one line on the page, which stays usable.
  const text = error instanceof CallError ? error.message : "the page failed: " + String(error.message || error).split("\n")[0];
  setStatus(text, true);
}

function svgFrom(markup) {
  // A picture microgradx drew, parsed as XML (inert) and adopted into the page.
  const parsed = new DOMParser().parseFromString(markup, "image/svg+xml");
  if (parsed.getElementsByTagName("parsererror").length) throw new Error("a picture could not be read");
  return document.importNode(parsed.documentElement, true);
}

async function start() {
  const started = performance.now();
  py = await loadPyodide({ indexURL: new URL("./pyodide/", location.href).href });
  const manifest = await (await fetch("manifest.json")).json();
  const wheel = await (await fetch(manifest.wheel)).arrayBuffer();
  const sitePackages = py.runPython("import site; site.getsitepackages()[0]");
  py.unpackArchive(new Uint8Array(wheel), "wheel", { extractDir: sitePackages });
  py.runPython("from microgradx.playground import handle");
  state.readySeconds = (performance.now() - started) / 1000;
  state.version = py.runPython("import microgradx; microgradx.__version__");
  for (const id of ["reset", "train", "step", "run"]) $(id).disabled = false;
  newSession();
  state.ready = true;
  document.body.dataset.ready = "1";
  if (!state.error) {
    setStatus(`Ready in ${state.readySeconds.toFixed(1)} s: microgradx ${state.version} on Python ${py.runPython("import sys; sys.version.split()[0]")}.`);
  }
}

function settings() {
  // every field as typed: Python checks them and names the one that is wrong
  return {
    dataset: $("dataset").value,
    hidden: $("hidden").value,
    activation: $("activation").value,
    lr: $("lr").value,
    optimizer: $("optimizer").value,
  };
}

function newSession() {
  try {
    state.status = call("new", settings());
    // a small network is readable op by op; a larger one neuron by neuron
    const units = $("hidden").value.split(",").reduce((sum, n) => sum + (Number(n) || 0), 0);
    $("level").value = units <= 4 ? "op" : "neuron";
    draw();
    setStatus("A new network: press train.");
  } catch (error) {
    showError(error);
  }
}

async function train(epochs) {
  // One epoch per call to Python (a network whose epoch would hold the page more than a few
  // seconds is refused when it is made), then the page repaints and takes clicks: stop ends the
  // run after the epoch under way.
  if (state.training) return;
  state.training = true;
  state.stopping = false;
  $("train").disabled = true;
  $("stop").disabled = false;
  try {
    for (let k = 0; k < epochs; k++) {
      if (state.stopping) {
        draw();
        setStatus(`Stopped after ${state.status.epochs} epochs: press train to go on.`);
        break;
      }
      state.status = call("train", { epochs: 1 });
      if (state.status.diverged) {
        draw();
        setStatus(state.status.message, true);
        break;
      }
      if (k % 5 === 4 || k === epochs - 1) draw();
      else drawNumbers();
      await new Promise((resolve) => setTimeout(resolve, 0)); // repaint, and take a click on stop
    }
  } catch (error) {
    showError(error);
  } finally {
    state.training = false;
    $("train").disabled = false;
    $("stop").disabled = true;
  }
}

function stop() {
  if (state.training) state.stopping = true;
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
  const b = call("boundary", { resolution: 30 });
  const canvas = $("boundary"), ctx = canvas.getContext("2d");
  const n = b.grid.length, cell = canvas.width / n;
  const [x0, x1, y0, y1] = b.bounds;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const score = b.grid[r][c]; // null: not a finite number (a diverged network)
      if (score === null) {
        ctx.fillStyle = "#bbbbbb";
      } else {
        const s = Math.tanh(score); // -1..1
        const strength = Math.round(255 - 110 * Math.abs(s));
        ctx.fillStyle = s > 0 ? `rgb(${strength},${strength},255)` : `rgb(255,${strength},${Math.round(strength * 0.7)})`;
      }
      ctx.fillRect(c * cell, r * cell, cell + 1, cell + 1);
    }
  }
  b.points.forEach(([x, y], i) => {
    ctx.beginPath();
    ctx.arc(((x - x0) / (x1 - x0)) * canvas.width, ((y1 - y) / (y1 - y0)) * canvas.height, 3, 0, 7);
    ctx.fillStyle = b.labels[i] ? "#1f55b4" : "#e06c00";
    ctx.fill();
  });
  const losses = state.status.losses; // null where the loss was not finite
  const top = Math.max(...losses.filter((l) => l !== null), 1e-9);
  const points = [];
  losses.forEach((l, i) => {
    if (l !== null) points.push(`${(i / Math.max(1, losses.length - 1)) * 310 + 5},${195 - (l / top) * 185}`);
  });
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1f55b4");
  line.setAttribute("stroke-width", "2");
  line.setAttribute("points", points.join(" "));
  $("curve").replaceChildren(line);
}

function stepThrough() {
  try {
    const step = call("step", { example: $("example").value, level: $("level").value });
    state.step = step;
    $("network").replaceChildren(svgFrom(step.network));
    // The step-through's own markup, parsed inert; then its script, which reads its data from
    // its JSON block and writes every text with textContent.
    const parsed = new DOMParser().parseFromString(step.html, "text/html");
    const box = $("stepper");
    box.replaceChildren(...[...parsed.body.childNodes].map((node) => document.importNode(node, true)));
    for (const script of box.querySelectorAll("script:not([type])")) new Function(script.textContent)();
    setStatus(`${step.steps} steps: use the buttons or click it and use the arrow keys.`);
  } catch (error) {
    showError(error);
  }
}

function runCode() {
  try {
    $("output").textContent = call("run", { code: $("code").value });
  } catch (error) {
    showError(error);
  }
}

$("reset").addEventListener("click", newSession);
$("train").addEventListener("click", () => train(10));
$("stop").addEventListener("click", stop);
$("step").addEventListener("click", stepThrough);
$("run").addEventListener("click", runCode);
state.train = train; // for the tests: train(n) returns when done
start().catch((error) => setStatus("Could not start: " + error, true));
