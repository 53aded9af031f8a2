// Verify a receipt in the browser, trusting neither the page nor the server's word:
//   1. rebuild the log entry (lnx-entry/v1) from the document's JWS and hash it as an RFC 9162 leaf;
//   2. open the checkpoint of the c2sp.org/tlog-proof with the log's key (C2SP signed-note, Ed25519);
//   3. check the RFC 9162 inclusion proof of the leaf against the checkpoint's root hash.
// Hashing is WebCrypto SHA-256; the signature check needs WebCrypto Ed25519 and is reported as
// skipped where the browser lacks it. "Verify via the API" asks the server to do the same.
(function () {
  "use strict";

  var subtle = window.crypto && window.crypto.subtle;
  var enc = new TextEncoder();

  function b64decode(text) {
    var bin = atob(text);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function concat() {
    var total = 0, parts = Array.prototype.slice.call(arguments);
    parts.forEach(function (p) { total += p.length; });
    var out = new Uint8Array(total), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) { return false; }
    var diff = 0;
    for (var i = 0; i < a.length; i++) { diff |= a[i] ^ b[i]; }
    return diff === 0;
  }
  function sha256(bytes) {
    return subtle.digest("SHA-256", bytes).then(function (d) { return new Uint8Array(d); });
  }
  function leafHash(data) { return sha256(concat(new Uint8Array([0]), data)); }
  function nodeHash(l, r) { return sha256(concat(new Uint8Array([1]), l, r)); }

  // RFC 9162 §2.1.3.2: verify an inclusion proof of leaf ``index`` in a tree of ``size`` leaves.
  async function verifyInclusion(index, size, leaf, proof, root) {
    var fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
    if (fn > sn) { return false; }
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0n) { return false; }
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(proof[i], r);
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await nodeHash(r, proof[i]);
      }
      fn >>= 1n; sn >>= 1n;
    }
    return sn === 0n && equal(r, root);
  }

  // c2sp.org/tlog-proof@v1: header, [extra], index, proof hashes, blank line, checkpoint note.
  function parseProof(text) {
    var split = text.indexOf("\n\n");
    if (split < 0) { throw new Error("the proof has no checkpoint"); }
    var lines = text.slice(0, split).split("\n"), note = text.slice(split + 2);
    if (lines[0] !== "c2sp.org/tlog-proof@v1") { throw new Error("not a c2sp.org/tlog-proof@v1"); }
    var pos = 1;
    if (lines[pos] && lines[pos].indexOf("extra ") === 0) { pos++; }
    var m = /^index (0|[1-9][0-9]*)$/.exec(lines[pos] || "");
    if (!m) { throw new Error("the proof has no index line"); }
    return { index: m[1], hashes: lines.slice(pos + 1).map(b64decode), note: note };
  }

  // C2SP signed-note: the text, a blank line, and "— name base64(keyid||sig)" lines.
  function parseNote(note) {
    var split = note.lastIndexOf("\n\n");
    if (split < 0) { throw new Error("the checkpoint has no signatures"); }
    var text = note.slice(0, split + 1);
    var sigs = note.slice(split + 2).replace(/\n$/, "").split("\n").map(function (line) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) { throw new Error("malformed signature line"); }
      var raw = b64decode(m[2]);
      return { name: m[1], keyId: raw.slice(0, 4), sig: raw.slice(4) };
    });
    return { text: text, signatures: sigs };
  }

  // C2SP tlog-checkpoint note text: origin line, decimal tree size, base64 root hash, extensions.
  function parseCheckpoint(text) {
    var body = text.split("\n");
    if (!/^(0|[1-9][0-9]*)$/.test(body[1] || "")) { throw new Error("malformed checkpoint size"); }
    var root = b64decode(body[2] || "");
    if (root.length !== 32) { throw new Error("malformed checkpoint root hash"); }
    return { origin: body[0], size: body[1], root: root };
  }

  // "<name>+<hex key id>+<base64(0x01 || Ed25519 public key)>"
  async function parseVkey(vkey) {
    // The name has no "+", but the base64 key may: split at the first two only.
    var text = vkey.trim(), first = text.indexOf("+"), second = text.indexOf("+", first + 1);
    if (first < 1 || second < 0) { throw new Error("malformed log key"); }
    var parts = [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
    var key = b64decode(parts[2]);
    if (key[0] !== 1 || key.length !== 33) { throw new Error("the log key is not an Ed25519 note key"); }
    var id = (await sha256(concat(enc.encode(parts[0] + "\n"), key))).slice(0, 4);
    if (hex(id) !== parts[1].toLowerCase()) { throw new Error("the log key's id does not match it"); }
    return { name: parts[0], keyId: id, publicKey: key.slice(1) };
  }

  async function ed25519Verify(publicKey, signature, message) {
    var key;
    try {
      key = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return null; // no Ed25519 in this browser
    }
    return subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  function fetchOk(url, asText) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(url + " answered " + r.status); }
      return asText ? r.text() : r.json();
    });
  }

  async function verifyInBrowser(panel) {
    if (!subtle) { throw new Error("this page has no WebCrypto (it needs HTTPS); verify via the API"); }
    var steps = [];
    var receipt = await fetchOk(panel.getAttribute("data-receipt-url"));
    var vkey = await parseVkey(await fetchOk(panel.getAttribute("data-log-key-url"), true));
    var expectedLeaf = Uint8Array.from(receipt.leaf_hash.match(/../g).map(function (h) { return parseInt(h, 16); }));
    var leaf = expectedLeaf;
    if (receipt.jws) {
      var digest = hex(await sha256(enc.encode(receipt.jws)));
      var entry = "lnx-entry/v1\n" + digest + "\n" + receipt.entry_time + "\n";
      leaf = await leafHash(enc.encode(entry));
      steps.push([equal(leaf, expectedLeaf), "log entry rebuilt from the JWS matches the leaf hash"]);
    } else {
      steps.push([true, "content not entrusted to you: checking the logged leaf hash only"]);
    }
    var proof = parseProof(receipt.proof);
    steps.push([proof.index === String(receipt.log_index), "proof is for log index " + receipt.log_index]);
    var note = parseNote(proof.note);
    var cp = parseCheckpoint(note.text);
    var origin = panel.getAttribute("data-log-origin");
    steps.push([cp.origin === origin, "checkpoint origin is " + origin]);
    var sig = note.signatures.filter(function (s) { return s.name === vkey.name && equal(s.keyId, vkey.keyId); })[0];
    if (!sig) {
      steps.push([false, "checkpoint is signed by the log's key"]);
    } else {
      var ok = await ed25519Verify(vkey.publicKey, sig.sig, enc.encode(note.text));
      if (ok === null) {
        steps.push([null, "checkpoint signature not checked: no Ed25519 in this browser (verify via the API)"]);
      } else {
        steps.push([ok, "checkpoint signature by the log key " + vkey.name + " is valid"]);
      }
    }
    var included = await verifyInclusion(proof.index, cp.size, leaf, proof.hashes, cp.root);
    steps.push([included, "inclusion proof leads to the root of the " + cp.size + "-entry tree"]);
    return steps;
  }

  function show(result, steps, source) {
    var failed = steps.some(function (s) { return s[0] === false; });
    result.textContent = "";
    var head = document.createElement("p");
    head.className = failed ? "bad" : "ok";
    head.textContent = (failed ? "Not verified" : "Verified") + " (" + source + ")";
    result.appendChild(head);
    var list = document.createElement("ul");
    steps.forEach(function (s) {
      var li = document.createElement("li");
      li.textContent = (s[0] === true ? "✓ " : s[0] === false ? "✗ " : "– ") + s[1];
      list.appendChild(li);
    });
    result.appendChild(list);
    result.setAttribute("data-verified", failed ? "false" : "true");
    result.setAttribute("data-source", source);
  }

  function fail(result, err, source) {
    result.textContent = "Could not verify (" + source + "): " + err.message;
    result.setAttribute("data-verified", "false");
    result.setAttribute("data-source", source);
  }

  function init(panel) {
    var result = panel.querySelector(".verify-result");
    panel.querySelector(".verify-browser").addEventListener("click", function () {
      result.textContent = "Verifying in this browser…";
      result.removeAttribute("data-verified");
      verifyInBrowser(panel).then(function (steps) { show(result, steps, "browser"); })
        .catch(function (err) { fail(result, err, "browser"); });
    });
    panel.querySelector(".verify-api").addEventListener("click", function () {
      result.textContent = "Asking the server…";
      result.removeAttribute("data-verified");
      fetchOk(panel.getAttribute("data-verification-url")).then(function (body) {
        var steps = body.verified
          ? [[true, "checkpoint " + body.checkpoint.size + " of " + body.checkpoint.origin + " signed by " + body.log_key.split("+")[0]],
             [true, "entry " + body.log_index + " is included (server-side lnx_client.core.tlogproof)"]]
          : [[false, body.reason]];
        show(result, steps, "API");
      }).catch(function (err) { fail(result, err, "API"); });
    });
  }

  if (!subtle) {
    document.addEventListener("DOMContentLoaded", function () {
      document.querySelectorAll(".verify-browser").forEach(function (b) {
        b.disabled = true;
        b.title = "WebCrypto needs a secure (HTTPS) page";
      });
    });
  }
  window.lnxVerify = {
    verifyInclusion: verifyInclusion, parseProof: parseProof, parseNote: parseNote, parseCheckpoint: parseCheckpoint,
    parseVkey: parseVkey, ed25519Verify: ed25519Verify, hex: hex
  };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".verify").forEach(init);
  });
})();
