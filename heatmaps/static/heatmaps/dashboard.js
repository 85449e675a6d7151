// The dashboard's charts: data and labels come from <script type="application/json"> blocks
// (no inline script: Content-Security-Policy).
(function () {
  var el = document.getElementById("chart-data"); if (!el) return;
  var d = JSON.parse(el.textContent), T = JSON.parse(document.getElementById("dash-i18n").textContent);
  new Chart(document.getElementById("chart-months"), { type: "line", data: { labels: d.months, datasets: [
    { label: T.received, data: d.received, borderColor: "#0b5cad" }, { label: T.resolved, data: d.resolved, borderColor: "#2b8a3e" }] } });
  new Chart(document.getElementById("chart-groups"), { type: "bar", data: { labels: d.groups, datasets: [{ label: T.received, data: d.group_received, backgroundColor: "#4dabf7" }] }, options: { indexAxis: "y", maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { ticks: { autoSkip: false } } } } });
  new Chart(document.getElementById("chart-satisfaction"), { type: "bar", data: { labels: T.levels, datasets: [{ label: "", data: d.satisfaction, backgroundColor: ["#c92a2a", "#f76707", "#fab005", "#74b816", "#2b8a3e"] }] }, options: { plugins: { legend: { display: false } } } });
})();
