"use strict";
// The dashboard's script: see README.md of the dashboard package.
fetch("/api/v1/stats").then((r) => r.json()).then((s) => {
  document.getElementById("app").textContent = JSON.stringify(s);
});
