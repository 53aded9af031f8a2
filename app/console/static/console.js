// Every console page: show each UTC time in the reader's local zone, with its offset, on hover.
(function () {
  "use strict";

  function offsetText(date) {
    var minutes = -date.getTimezoneOffset();
    var sign = minutes >= 0 ? "+" : "-";
    var abs = Math.abs(minutes);
    var hh = String(Math.floor(abs / 60)).padStart(2, "0");
    var mm = String(abs % 60).padStart(2, "0");
    return "UTC" + sign + hh + ":" + mm;
  }

  function localText(date) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + " " + offsetText(date);
  }

  function localiseTimes(root) {
    root.querySelectorAll("time[data-utc]").forEach(function (el) {
      var date = new Date(el.getAttribute("data-utc"));
      if (isNaN(date.getTime())) { return; }
      el.title = "Local time: " + localText(date);
    });
  }

  window.lnxConsole = { localiseTimes: localiseTimes, localText: localText };
  document.addEventListener("DOMContentLoaded", function () { localiseTimes(document); });
})();
