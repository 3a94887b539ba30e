// Charts: each <canvas data-chart='{"labels": [...], "series": {name: [...]}}'> becomes a
// Chart.js bar chart. Data comes from the server in the page; nothing is fetched.
(function () {
  var palette = ["#2f5fd0", "#8a5cd6", "#2f9e6a", "#e08a1e", "#d1493f"];
  function draw() {
    if (typeof Chart === "undefined") return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var data = JSON.parse(canvas.dataset.chart);
      var names = Object.keys(data.series);
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: names.map(function (name, i) {
            return { label: name.toUpperCase(), data: data.series[name], backgroundColor: palette[i % palette.length] };
          })
        },
        options: {
          responsive: true, animation: false,
          plugins: { legend: { display: names.length > 1 } },
          scales: {
            x: { stacked: true },
            y: { stacked: true, beginAtZero: true, ticks: canvas.dataset.percent ? { callback: function (v) { return Math.round(v * 100) + "%"; } } : {} }
          }
        }
      });
      canvas.dataset.drawn = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSwap", draw);
})();

// "Edit" on a segment fills the form with it (saving replaces it in the spec).
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.edit");
  var form = document.getElementById("segment-form");
  if (!button || !form) return;
  form.elements.name.value = button.dataset.name;
  form.elements.expression.value = button.dataset.expression;
  form.elements.expression.dispatchEvent(new Event("input", { bubbles: true }));
  form.elements.expression.focus();
});
