// The browser editor of Python files: line numbers, Python highlighting, the file's pylint
// messages at their lines, Tab / Shift+Tab to indent and dedent, Enter keeps the indentation,
// Ctrl+S (Cmd+S) commits. Written for gitserver (no library, no CDN).
//
// How: the form's <textarea> stays the editor (typing, selection, undo, the form post) and is
// made transparent over a <pre> that shows the same text highlighted; a gutter beside them
// numbers the lines. Without JavaScript the textarea is a plain form field and the messages
// are a list under it, so the page works the same.
(function () {
  "use strict";

  var INDENT = "    ";
  var KEYWORDS = ("and as assert async await break class continue def del elif else except " +
    "finally for global if in is lambda nonlocal not or pass raise return try while with " +
    "yield match case").split(" ");
  var IMPORTS = ["import", "from"];
  var CONSTANTS = ["True", "False", "None"];
  var BUILTINS = ("abs all any ascii bin bool breakpoint bytearray bytes callable chr " +
    "classmethod compile complex delattr dict dir divmod enumerate eval exec filter float " +
    "format frozenset getattr globals hasattr hash help hex id input int isinstance " +
    "issubclass iter len list locals map max memoryview min next object oct open ord pow " +
    "print property range repr reversed round set setattr slice sorted staticmethod str sum " +
    "super tuple type vars zip __import__ Exception ValueError TypeError KeyError " +
    "IndexError AttributeError RuntimeError OSError StopIteration NotImplementedError " +
    "NotImplemented Ellipsis").split(" ");
  // comment | string (any prefix, triple or single quotes, unterminated up to the line/text
  // end) | decorator | number | name
  var TOKEN = new RegExp([
    "(#[^\\n]*)",
    "((?:\\b[rRbBuUfF]{1,2})?(?:\"\"\"[\\s\\S]*?(?:\"\"\"|$)|'''[\\s\\S]*?(?:'''|$)|" +
      "\"(?:[^\"\\\\\\n]|\\\\[\\s\\S])*\"?|'(?:[^'\\\\\\n]|\\\\[\\s\\S])*'?))",
    "(@[A-Za-z_][\\w.]*)",
    "(\\b0[xXoObB][\\da-fA-F_]+\\b|(?:\\b\\d[\\d_]*\\.?[\\d_]*|\\.\\d[\\d_]*)" +
      "(?:[eE][+-]?\\d+)?[jJ]?\\b)",
    "([A-Za-z_]\\w*)"
  ].join("|"), "g");

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function nameClass(name, previous) {
    if (previous === "def") { return "nf"; }
    if (previous === "class") { return "nc"; }
    if (IMPORTS.indexOf(name) >= 0) { return "kn"; }
    if (KEYWORDS.indexOf(name) >= 0) { return "k"; }
    if (CONSTANTS.indexOf(name) >= 0) { return "kc"; }
    if (name === "self" || name === "cls") { return "bp"; }
    if (BUILTINS.indexOf(name) >= 0) { return "nb"; }
    return "";
  }

  // The text as one HTML string per line; a token spanning lines is closed and reopened at
  // each line end, so every line is balanced HTML.
  function highlightLines(text) {
    var lines = [""];
    function add(piece, cls) {
      piece.split("\n").forEach(function (part, index) {
        if (index > 0) { lines.push(""); }
        if (part) {
          var html = escapeHtml(part);
          lines[lines.length - 1] += cls ? '<span class="' + cls + '">' + html + "</span>" : html;
        }
      });
    }
    var last = 0;
    var previous = "";
    var match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      if (match[0] === "") { TOKEN.lastIndex += 1; continue; }
      add(text.slice(last, match.index), "");
      var cls = match[1] ? "c1" : match[2] ? "s2" : match[3] ? "nd" : match[4] ? "mi" : "";
      if (match[5]) { cls = nameClass(match[5], previous); previous = match[5]; }
      add(match[0], cls);
      last = TOKEN.lastIndex;
    }
    add(text.slice(last), "");
    return lines;
  }

  function insertText(area, text) {
    area.focus();
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    if (!document.execCommand("insertText", false, text)) {
      area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
      area.dispatchEvent(new Event("input"));
    }
  }

  function lineStart(value, index) { return value.lastIndexOf("\n", index - 1) + 1; }

  // Tab: indent (to the next multiple of four, or every selected line); Shift+Tab: dedent.
  function indent(area, dedent) {
    var value = area.value;
    var start = area.selectionStart;
    var end = area.selectionEnd;
    var multi = value.slice(start, end).indexOf("\n") >= 0;
    if (!dedent && !multi) {
      var column = start - lineStart(value, start);
      insertText(area, INDENT.slice(column % INDENT.length));
      return;
    }
    var from = lineStart(value, start);
    var lastEnd = end > start && value.charAt(end - 1) === "\n" ? end - 1 : end;
    var to = value.indexOf("\n", lastEnd);
    if (to < 0) { to = value.length; }
    var block = value.slice(from, to);
    var changed = block.split("\n").map(function (line) {
      if (dedent) { return line.replace(/^ {1,4}|^\t/, ""); }
      return line ? INDENT + line : line;
    }).join("\n");
    if (changed === block) { return; }
    area.setSelectionRange(from, to);
    insertText(area, changed);
    if (multi) {
      area.setSelectionRange(from, from + changed.length);
    } else {
      var removed = block.length - changed.length;
      area.setSelectionRange(Math.max(from, start - removed), Math.max(from, start - removed));
    }
  }

  // Enter keeps the line's indentation, one level more after a colon.
  function newline(area) {
    var value = area.value;
    var start = area.selectionStart;
    var line = value.slice(lineStart(value, start), start);
    var lead = /^[ \t]*/.exec(line)[0];
    if (/:\s*(#.*)?$/.test(line)) { lead += INDENT; }
    insertText(area, "\n" + lead);
  }

  function readMessages(list) {
    var byLine = {};
    if (!list) { return byLine; }
    list.querySelectorAll("[data-line]").forEach(function (item) {
      var line = parseInt(item.getAttribute("data-line"), 10);
      if (!(line >= 1)) { return; }
      (byLine[line] = byLine[line] || []).push({
        type: item.getAttribute("data-type") || "",
        text: item.getAttribute("data-text") || item.textContent.trim()
      });
    });
    return byLine;
  }

  var SEVERITY = ["fatal", "error", "warning", "refactor", "convention", "info"];

  function worst(messages) {
    var best = SEVERITY.length;
    messages.forEach(function (m) {
      var rank = SEVERITY.indexOf(m.type);
      if (rank >= 0 && rank < best) { best = rank; }
    });
    return SEVERITY[best] || "info";
  }

  function Editor(area, list) {
    var frame = document.createElement("div");
    frame.className = "ce-frame";
    var gutter = document.createElement("div");
    gutter.className = "ce-gutter";
    gutter.setAttribute("aria-hidden", "true");
    var body = document.createElement("div");
    body.className = "ce-body";
    var pre = document.createElement("pre");
    pre.className = "ce-highlight source";
    pre.setAttribute("aria-hidden", "true");
    area.parentNode.insertBefore(frame, area);
    frame.appendChild(gutter);
    frame.appendChild(body);
    body.appendChild(pre);
    body.appendChild(area);
    area.classList.remove("form-control");
    area.classList.add("ce-input");
    area.setAttribute("wrap", "off");
    frame.parentNode.classList.add("ce-on");

    // Each message sticks to the text of its line, so it moves with it when lines are added
    // or removed above; a line whose text changed keeps its messages, marked as maybe stale.
    var original = area.value.split("\n");
    var anchors = [];
    var byLine = readMessages(list);
    Object.keys(byLine).forEach(function (key) {
      var line = parseInt(key, 10);
      anchors.push({ line: line, text: original[line - 1], messages: byLine[key],
                     stale: false });
    });

    function place(lines) {
      anchors.forEach(function (anchor) {
        if (lines[anchor.line - 1] === anchor.text) { anchor.stale = false; return; }
        for (var distance = 1; distance < 500; distance += 1) {
          var candidates = [anchor.line - distance, anchor.line + distance];
          for (var i = 0; i < 2; i += 1) {
            if (lines[candidates[i] - 1] === anchor.text && candidates[i] >= 1) {
              anchor.line = candidates[i];
              anchor.stale = false;
              return;
            }
          }
        }
        anchor.stale = true;
      });
    }

    var scheduled = false;
    function render() {
      scheduled = false;
      var text = area.value;
      var plain = text.split("\n");
      place(plain);
      var at = {};
      anchors.forEach(function (anchor) { if (anchor.line <= plain.length) { at[anchor.line] = anchor; } });
      var html = highlightLines(text);
      var numbers = [];
      for (var n = 1; n <= html.length; n += 1) {
        var anchor = at[n];
        if (!anchor) {
          html[n - 1] = '<span class="ce-line">' + html[n - 1] + "</span>";
          numbers.push('<div class="ce-num">' + n + "</div>");
          continue;
        }
        var kind = worst(anchor.messages) + (anchor.stale ? " ce-stale" : "");
        var note = anchor.messages.map(function (m) { return m.text; }).join(" \u00b7 ");
        html[n - 1] = '<span class="ce-line ce-flag ce-' + kind + '" data-line="' + n + '">' +
          html[n - 1] + '<span class="ce-note">' + escapeHtml(note) + "</span></span>";
        numbers.push('<div class="ce-num ce-mark ce-' + kind + '" title="' +
          escapeHtml(note).replace(/"/g, "&quot;") + '">' + n + "</div>");
      }
      pre.innerHTML = html.join("\n") + "\n\n";
      gutter.innerHTML = numbers.join("") + '<div class="ce-num">&nbsp;</div>';
      sync();
    }

    function schedule() {
      if (!scheduled) { scheduled = true; window.requestAnimationFrame(render); }
    }

    function sync() {
      pre.scrollTop = area.scrollTop;
      pre.scrollLeft = area.scrollLeft;
      gutter.scrollTop = area.scrollTop;
    }

    var escaped = false;  // Esc, then Tab: leave the editor (keyboard users must get out)
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { escaped = true; return; }
      var leaving = escaped;
      escaped = false;
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
        event.preventDefault();
        var form = area.form;
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        return;
      }
      if (event.key === "Tab" && !leaving && !event.ctrlKey && !event.altKey &&
          !event.metaKey) {
        event.preventDefault();
        indent(area, event.shiftKey);
        return;
      }
      if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey && !event.altKey &&
          !event.metaKey && !event.isComposing) {
        event.preventDefault();
        newline(area);
      }
    });
    area.addEventListener("input", schedule);
    area.addEventListener("scroll", sync);
    render();
    frame.setAttribute("data-ready", "true");
  }

  document.querySelectorAll("[data-code-editor]").forEach(function (holder) {
    var area = holder.querySelector("textarea");
    var list = document.getElementById(holder.getAttribute("data-messages") || "");
    if (area) { Editor(area, list); }
  });
}());
