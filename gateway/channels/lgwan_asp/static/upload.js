// The only script of the portal: a progress bar for the upload. Without it the form posts normally.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("send-form");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  if (!form || !bar || !window.XMLHttpRequest || !window.FormData) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    bar.hidden = false;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var pct = Math.floor((e.loaded / e.total) * 100);
        bar.value = pct;
        text.textContent = pct + "%";
      }
    });
    xhr.addEventListener("load", function () {
      // Show the server's answer page (result, refusals or error) in place of this one.
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () { text.textContent = "送信に失敗しました / upload failed"; });
    xhr.open("POST", form.action);
    xhr.send(new FormData(form));
  });
});
