// Pressroom search page: reads ?q=, fetches only the index shards its words live in,
// ranks title matches first and then the newest, and shows highlighted snippets.
// Tokens, shard hashing and document numbers mirror services/render/search/.
(function () {
  "use strict";
  var me = document.currentScript;
  var root = (me && me.getAttribute("data-index")) || "/search/";
  var CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff";
  var RUN = new RegExp("[" + CJK + "]+|(?:(?![" + CJK + "])[\\p{L}\\p{N}])+", "gu");
  var CJK_RUN = new RegExp("^[" + CJK + "]+$", "u");
  var MAX_WORD = 40;
  var PAGE = 10;

  function normalize(text) { return text.normalize("NFKC").toLowerCase(); }

  function runs(text) { return normalize(text).match(RUN) || []; }

  function queryTokens(query) {
    var found = {};
    runs(query).forEach(function (run) {
      var chars = Array.from(run);
      if (CJK_RUN.test(run)) {
        if (chars.length === 1) found[run] = true;
        for (var i = 0; i + 1 < chars.length; i++) found[chars[i] + chars[i + 1]] = true;
      } else if (chars.length <= MAX_WORD) {
        found[run] = true;
      }
    });
    return Object.keys(found);
  }

  var CRC = (function () {
    var table = new Int32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
    return table;
  })();

  function shardOf(token, shards) {
    var bytes = new TextEncoder().encode(token);
    var c = -1;
    for (var i = 0; i < bytes.length; i++) c = CRC[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    return ((c ^ -1) >>> 0) % shards;
  }

  function getJSON(url, options) {
    return fetch(url, options || {}).then(function (r) {
      if (r.status === 404) return null;
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  // What this page has read, for the next query typed into it: a token's lists in a
  // segment never change (shards are immutable), while the manifest and result fragments
  // are kept only as long as their Cache-Control lets the browser keep them.
  var FRESH_MS = 15000;
  function Memo(limit, freshMs) { this.limit = limit; this.freshMs = freshMs; this.map = new Map(); }
  Memo.prototype.get = function (key, load) {
    var hit = this.map.get(key), now = Date.now();
    this.map.delete(key);
    if (hit && (!this.freshMs || now - hit.at < this.freshMs)) {
      this.map.set(key, hit);
      return hit.value;
    }
    var memo = this, entry = { at: now, value: load() };
    entry.value.catch(function () { if (memo.map.get(key) === entry) memo.map.delete(key); });
    this.map.set(key, entry);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value);
    return entry.value;
  };
  var postingsMemo = new Memo(600, 0); // a token's lists in one segment: a few KB each
  var pageMemo = new Memo(200, FRESH_MS);
  function fresh(url) { return pageMemo.get(url, function () { return getJSON(url); }); }

  // Delta-coded lists from several segments: one ascending array without repeats.
  function sortedUnique(parts) {
    var total = 0;
    parts.forEach(function (p) { total += p.length; });
    var all = new Float64Array(total), at = 0;
    parts.forEach(function (p) {
      for (var i = 0, n = 0; i < p.length; i++) { n += p[i]; all[at++] = n; }
    });
    all.sort();
    var kept = 0;
    for (var i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[kept++] = all[i];
    return all.subarray(0, kept);
  }

  function intersect(a, b) {
    var out = new Float64Array(Math.min(a.length, b.length));
    var i = 0, j = 0, kept = 0;
    while (i < a.length && j < b.length) {
      if (a[i] < b[j]) i++;
      else if (a[i] > b[j]) j++;
      else { out[kept++] = a[i]; i++; j++; }
    }
    return out.subarray(0, kept);
  }

  function intersectAll(lists) {
    lists.sort(function (a, b) { return a.length - b.length; });
    return lists.reduce(intersect);
  }

  // Every document holding all the tokens, title matches first, then the newest.
  function candidates(manifest, tokens) {
    var shardCache = {};
    var lookups = [];
    manifest.segments.forEach(function (seg) {
      tokens.forEach(function (token) {
        var url = root + "seg/" + seg.id + "/" + shardOf(token, seg.shards) + ".json";
        lookups.push(postingsMemo.get(seg.id + "\u0000" + token, function () {
          if (!shardCache[url]) shardCache[url] = getJSON(url);
          return shardCache[url].then(function (shard) { return (shard && shard[token]) || null; });
        }).then(function (lists) { return { token: token, lists: lists }; }));
      });
    });
    return Promise.all(lookups).then(function (found) {
      var body = {}, title = {};
      tokens.forEach(function (t) { body[t] = []; title[t] = []; });
      found.forEach(function (f) {
        if (!f.lists) return;
        body[f.token].push(f.lists[0]);
        if (f.lists[1]) title[f.token].push(f.lists[1]);
      });
      var all = intersectAll(tokens.map(function (t) { return sortedUnique(body[t]); }));
      var titled = intersectAll(tokens.map(function (t) { return sortedUnique(title[t]); }));
      var hits = [];
      for (var i = titled.length - 1; i >= 0; i--) hits.push({ n: titled[i], title: true });
      var rest = [], j = titled.length - 1;
      for (var k = all.length - 1; k >= 0; k--) {
        while (j >= 0 && titled[j] > all[k]) j--;
        if (j < 0 || titled[j] !== all[k]) rest.push({ n: all[k], title: false });
      }
      return hits.concat(rest);
    });
  }

  // The index may still list a withdrawn or edited article: its fragment decides.
  function stillSays(doc, words) {
    var title = normalize(doc.t), text = normalize(doc.x);
    var inTitle = words.every(function (w) { return title.indexOf(w) >= 0; });
    var inText = words.every(function (w) { return title.indexOf(w) >= 0 || text.indexOf(w) >= 0; });
    return { ok: inText || (!doc.f && words.length > 0), inTitle: inTitle };
  }

  function highlighted(text, words) {
    var out = document.createDocumentFragment();
    var lower = text.toLowerCase();
    var at = 0;
    while (at < text.length) {
      var best = -1, len = 0;
      words.forEach(function (w) {
        var i = lower.indexOf(w, at);
        if (i >= 0 && (best < 0 || i < best)) { best = i; len = w.length; }
      });
      if (best < 0 || !len) break;
      out.appendChild(document.createTextNode(text.slice(at, best)));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(best, best + len);
      out.appendChild(mark);
      at = best + len;
    }
    out.appendChild(document.createTextNode(text.slice(at)));
    return out;
  }

  function snippet(text, words) {
    var lower = text.toLowerCase();
    var first = -1;
    words.forEach(function (w) {
      var i = lower.indexOf(w);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    });
    var start = Math.max(0, first - 30);
    var cut = text.slice(start, start + 110);
    return (start > 0 ? "…" : "") + cut + (start + 110 < text.length ? "…" : "");
  }

  function show(list, doc, words) {
    var li = document.createElement("li");
    var h = document.createElement("h2");
    var a = document.createElement("a");
    a.href = doc.u;
    a.appendChild(highlighted(doc.t, words));
    h.appendChild(a);
    var meta = document.createElement("p");
    meta.className = "search-meta";
    meta.textContent = (doc.c ? doc.c + " · " : "") + doc.d;
    var p = document.createElement("p");
    p.className = "search-snippet";
    p.appendChild(highlighted(snippet(doc.x, words), words));
    li.appendChild(h); li.appendChild(meta); li.appendChild(p);
    list.appendChild(li);
  }

  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var more = document.getElementById("search-more");
  var current = null; // the query on show: its ranked hits and how far they are shown

  function run(query) {
    var tokens = queryTokens(query);
    var words = runs(query);
    var search = { hits: [], next: 0, shown: 0 };
    current = search;
    list.textContent = "";
    list.removeAttribute("data-search-ms");
    more.hidden = true;
    if (!tokens.length) { status.textContent = "请输入要查询的字词。"; return; }
    var started = performance.now();
    status.textContent = "正在查询…";
    search.page = function page(want) {
      var batch = search.hits.slice(search.next, search.next + want);
      search.next += batch.length;
      return Promise.all(batch.map(function (hit) {
        return fresh(root + "doc/" + hit.n + ".json");
      })).then(function (docs) {
        if (current !== search) return; // a newer query took over
        var kept = [];
        docs.forEach(function (doc, i) {
          if (!doc) return;
          var c = stillSays(doc, words);
          if (c.ok) kept.push({ doc: doc, inTitle: c.inTitle, n: batch[i].n });
        });
        kept.sort(function (a, b) { return (b.inTitle - a.inTitle) || (b.n - a.n); });
        kept.forEach(function (k) { show(list, k.doc, words); search.shown++; });
        if (kept.length < want && search.next < search.hits.length) {
          return page(want - kept.length);
        }
      });
    };
    fresh(root + "manifest.json")
      .then(function (manifest) { return manifest ? candidates(manifest, tokens) : []; })
      .then(function (found) { search.hits = found; return search.page(PAGE); })
      .then(function () {
        if (current !== search) return;
        status.textContent = search.shown
          ? "“" + query + "”的查询结果"
          : "没有找到与“" + query + "”相关的文章。";
        more.hidden = search.next >= search.hits.length;
        list.setAttribute("data-search-ms", String(Math.round(performance.now() - started)));
      })
      .catch(function () { status.textContent = "查询暂时不可用,请稍后再试。"; });
  }

  more.addEventListener("click", function () {
    var search = current;
    if (!search || !search.page) return;
    search.page(PAGE).then(function () { more.hidden = search.next >= search.hits.length; });
  });

  function fromAddress() {
    var query = (new URLSearchParams(location.search).get("q") || "").trim().slice(0, 100);
    document.querySelectorAll("input[name=q]").forEach(function (input) { input.value = query; });
    if (query) run(query);
  }

  // On this page a new query needs no reload: the address changes, so it stays linkable.
  document.querySelectorAll("form[action='/query.html']").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var query = (form.elements.namedItem("q").value || "").trim().slice(0, 100);
      if (!query) return;
      event.preventDefault();
      history.pushState(null, "", "/query.html?q=" + encodeURIComponent(query));
      fromAddress();
    });
  });
  window.addEventListener("popstate", fromAddress);
  fromAddress();
})();
