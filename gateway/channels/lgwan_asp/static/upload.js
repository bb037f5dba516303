// The only script of the portal: a progress bar for the upload. Without it the form posts normally.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("send-form");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  var failed = document.getElementById("upload-error");
  if (!form || !bar || !window.XMLHttpRequest || !window.FormData) { return; }
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    // The File object is only a reference: the browser streams it from disk while sending.
    var xhr = new XMLHttpRequest();
    bar.hidden = false;
    bar.value = 0;
    if (failed) { failed.hidden = true; }
    if (button) { button.disabled = true; }
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var pct = Math.floor((e.loaded / e.total) * 100);
        bar.value = pct;
        text.textContent = pct < 100 ? pct + "%" : "100% — 確認・暗号化しています / checking and encrypting";
      }
    });
    xhr.addEventListener("load", function () {
      // Show the server's answer page (result, refusals or error, whatever its status) in place of this one.
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    function fail() {
      // The connection broke (or the server closed it on a refused upload): nothing was kept.
      text.textContent = "";
      bar.hidden = true;
      if (button) { button.disabled = false; }
      if (failed) { failed.hidden = false; }
    }
    xhr.addEventListener("error", fail);
    xhr.addEventListener("abort", fail);
    xhr.open("POST", form.action);
    xhr.send(new FormData(form));
  });
});
