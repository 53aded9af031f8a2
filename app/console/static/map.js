// The console's map: Natural Earth land (TopoJSON from world-atlas, shipped with the console)
// under the launch areas, planned directions and impact areas of GeoJSON features, drawn as SVG
// in an equirectangular projection (x = longitude, y = -latitude). Plain JavaScript, no library,
// and no request to any host but this one.
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg"; // the SVG namespace name, not a URL that is fetched
  var EARTH_RADIUS_KM = 6371.0088;
  var ARROW_KM = 1200; // length of the planned-direction arrow
  var WORLD = [-180, -90, 360, 180];
  var ASPECT = 2; // width / height of every view, as the world's

  function svgEl(name, attrs) {
    var el = document.createElementNS(SVG_NS, name);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }

  // ------------------------------------------------------------------ TopoJSON
  // The TopoJSON specification (topojson-specification, 2.1): arcs are quantized and delta-encoded
  // when the topology has a transform; a ring lists arc indexes, ~i meaning arc i reversed.
  function decodeArcs(topology) {
    var t = topology.transform;
    return topology.arcs.map(function (arc) {
      var x = 0, y = 0;
      return arc.map(function (p) {
        if (!t) { return [p[0], p[1]]; }
        x += p[0]; y += p[1];
        return [x * t.scale[0] + t.translate[0], y * t.scale[1] + t.translate[1]];
      });
    });
  }

  function ringFromArcs(indexes, arcs) {
    var points = [];
    indexes.forEach(function (i, k) {
      var arc = i < 0 ? arcs[~i].slice().reverse() : arcs[i];
      points.push.apply(points, k === 0 ? arc : arc.slice(1));
    });
    return points;
  }

  function topologyPolygons(topology, name) {
    var arcs = decodeArcs(topology);
    var object = topology.objects[name];
    var geometries = object.type === "GeometryCollection" ? object.geometries : [object];
    var polygons = [];
    geometries.forEach(function (g) {
      var ring = function (r) { return ringFromArcs(r, arcs); };
      if (g.type === "Polygon") { polygons.push(g.arcs.map(ring)); }
      if (g.type === "MultiPolygon") { g.arcs.forEach(function (p) { polygons.push(p.map(ring)); }); }
    });
    return polygons;
  }

  // ------------------------------------------------------------------ geometry
  function rad(d) { return d * Math.PI / 180; }
  function deg(r) { return r * 180 / Math.PI; }

  // The point reached going ``km`` from (lon, lat) along the initial bearing ``azimuth`` (great circle).
  function destination(lon, lat, azimuth, km) {
    var d = km / EARTH_RADIUS_KM, th = rad(azimuth), p1 = rad(lat), l1 = rad(lon);
    var p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(th));
    var l2 = l1 + Math.atan2(Math.sin(th) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    var lon2 = ((deg(l2) + 540) % 360) - 180;
    return [lon2, deg(p2)];
  }

  function circleRing(lon, lat, km) {
    var ring = [];
    for (var b = 0; b <= 360; b += 10) { ring.push(destination(lon, lat, b, km)); }
    return ring;
  }

  function pathData(rings) {
    return rings.map(function (ring) {
      var d = "", prev = null;
      ring.forEach(function (p) {
        // Start a new subpath where a line would jump across the antimeridian.
        var cmd = prev === null || Math.abs(p[0] - prev[0]) > 180 ? "M" : "L";
        d += cmd + p[0].toFixed(3) + "," + (-p[1]).toFixed(3);
        prev = p;
      });
      return d + "Z";
    }).join("");
  }

  function lineData(points) {
    return points.map(function (p, i) {
      return (i === 0 ? "M" : "L") + p[0].toFixed(3) + "," + (-p[1]).toFixed(3);
    }).join("");
  }

  function centre(geometry) {
    if (geometry.type === "Point") { return geometry.coordinates; }
    var ring = geometry.type === "Polygon" ? geometry.coordinates[0] : geometry.coordinates[0][0];
    var sx = 0, sy = 0, n = ring.length - 1 || 1;
    for (var i = 0; i < n; i++) { sx += ring[i][0]; sy += ring[i][1]; }
    return [sx / n, sy / n];
  }

  function featureRings(feature) {
    var g = feature.geometry, props = feature.properties || {};
    if (g.type === "Point") {
      var km = Math.max(Number(props.radius_km) || 1, 1);
      return [circleRing(g.coordinates[0], g.coordinates[1], km)];
    }
    if (g.type === "Polygon") { return g.coordinates; }
    if (g.type === "MultiPolygon") { return [].concat.apply([], g.coordinates); }
    return [];
  }

  // ------------------------------------------------------------------ drawing
  function describe(props) {
    var what = props.role === "launch_area" ? "launch area" : "impact area";
    var name = props.name ? " (" + props.name + ")" : "";
    var window = props.window_start ? ", window " + props.window_start + " – " + props.window_end : "";
    return props.document_id + ": " + what + name + window;
  }

  function link(documentId, label) {
    var a = svgEl("a", { href: "/console/documents/" + encodeURIComponent(documentId) });
    a.setAttribute("aria-label", label);
    return a;
  }

  function drawFeature(layer, feature, bounds, markers) {
    var props = feature.properties || {};
    var id = props.document_id;
    var role = props.role === "launch_area" ? "launch" : "impact";
    var label = describe(props);
    var a = link(id, label);
    var title = svgEl("title");
    title.textContent = label;
    a.appendChild(title);
    var rings = featureRings(feature);
    var path = svgEl("path", {
      d: pathData(rings), "class": "area " + role, "data-document-id": id, "data-role": props.role,
      "fill-rule": "evenodd"
    });
    a.appendChild(path);
    rings.forEach(function (r) { r.forEach(function (p) { bounds.push(p); }); });
    if (feature.geometry.type === "Point") {
      // A dot at the site, so a small area stays visible at any zoom (sized once the view is known).
      var c = feature.geometry.coordinates;
      var dot = svgEl("circle", { cx: c[0], cy: -c[1], r: 0.5, "class": "site " + role, "data-document-id": id });
      markers.push(dot);
      a.appendChild(dot);
    }
    if (props.role === "launch_area" && props.azimuth_deg !== null && props.azimuth_deg !== undefined) {
      var start = centre(feature.geometry);
      var points = [];
      for (var k = 0; k <= 12; k++) {
        points.push(destination(start[0], start[1], Number(props.azimuth_deg), ARROW_KM * k / 12));
      }
      var arrow = svgEl("path", {
        d: lineData(points), "class": "direction", "data-document-id": id, "data-role": "direction",
        "marker-end": "url(#" + layer.getAttribute("data-arrow-id") + ")"
      });
      var arrowTitle = svgEl("title");
      arrowTitle.textContent = id + ": planned direction " + props.azimuth_deg + "°";
      arrow.appendChild(arrowTitle);
      a.appendChild(arrow);
      points.forEach(function (p) { bounds.push(p); });
    }
    layer.appendChild(a);
  }

  function fitView(bounds) {
    if (!bounds.length) { return WORLD.slice(); }
    var minX = 180, maxX = -180, minY = 90, maxY = -90;
    bounds.forEach(function (p) {
      minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]);
      minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]);
    });
    var pad = 6;
    var w = Math.max(maxX - minX + 2 * pad, 30), h = Math.max(maxY - minY + 2 * pad, 15);
    if (w / h > ASPECT) { h = w / ASPECT; } else { w = h * ASPECT; }
    w = Math.min(w, 360); h = Math.min(h, 180);
    var cx = (minX + maxX) / 2, cy = -(minY + maxY) / 2;
    var x = Math.min(Math.max(cx - w / 2, -180), 180 - w);
    var y = Math.min(Math.max(cy - h / 2, -90), 90 - h);
    return [x, y, w, h];
  }

  function setView(svg, view, markers) {
    svg.setAttribute("viewBox", view.map(function (v) { return v.toFixed(3); }).join(" "));
    var r = Math.min(view[2] / 110, 1.2); // a few pixels, whatever the zoom
    markers.forEach(function (m) { m.setAttribute("r", r.toFixed(3)); });
  }

  function draw(container, land, collection) {
    var id = container.id;
    var arrowId = id + "-arrow";
    var svg = svgEl("svg", { "class": "map-svg", preserveAspectRatio: "xMidYMid meet", role: "group" });
    svg.setAttribute("aria-label", container.getAttribute("data-label") || "Map");
    var defs = svgEl("defs");
    var marker = svgEl("marker", {
      id: arrowId, viewBox: "0 0 10 10", refX: "8", refY: "5", markerWidth: "5", markerHeight: "5",
      orient: "auto-start-reverse"
    });
    marker.appendChild(svgEl("path", { d: "M0,0L10,5L0,10z", "class": "arrow-head" }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    svg.appendChild(svgEl("rect", { x: -180, y: -90, width: 360, height: 180, "class": "sea" }));
    var grid = svgEl("g", { "class": "graticule" });
    for (var lon = -150; lon < 180; lon += 30) { grid.appendChild(svgEl("line", { x1: lon, y1: -90, x2: lon, y2: 90 })); }
    for (var lat = -60; lat <= 60; lat += 30) { grid.appendChild(svgEl("line", { x1: -180, y1: lat, x2: 180, y2: lat })); }
    svg.appendChild(grid);
    var landLayer = svgEl("g", { "class": "land" });
    topologyPolygons(land, "land").forEach(function (polygon) {
      landLayer.appendChild(svgEl("path", { d: pathData(polygon), "fill-rule": "evenodd" }));
    });
    svg.appendChild(landLayer);
    var layer = svgEl("g", { "class": "features", "data-arrow-id": arrowId });
    var bounds = [], markers = [];
    var features = (collection.features || []).filter(function (f) { return f.geometry; });
    // Impact areas first, so launch areas and arrows stay on top and clickable.
    features.sort(function (a, b) {
      return (a.properties.role === "launch_area" ? 1 : 0) - (b.properties.role === "launch_area" ? 1 : 0);
    });
    features.forEach(function (f) { drawFeature(layer, f, bounds, markers); });
    svg.appendChild(layer);
    container.textContent = "";
    container.appendChild(svg);
    var fitted = fitView(bounds);
    setView(svg, fitted, markers);
    container.setAttribute("data-shapes", String(features.length));
    container.setAttribute("data-ready", "true");
    if (!features.length) {
      var note = document.createElement("p");
      note.className = "map-empty";
      note.textContent = "No open notification with areas that you may read.";
      container.appendChild(note);
    }
    var button = document.querySelector('.map-world[data-map="' + id + '"]');
    if (button) {
      var world = false;
      button.addEventListener("click", function () {
        world = !world;
        setView(svg, world ? WORLD : fitted, markers);
        button.textContent = world ? "Fit to areas" : "Whole world";
      });
    }
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(url + " answered " + r.status); }
      return r.json();
    });
  }

  function load(container) {
    var land = fetchJson(container.getAttribute("data-land-url"));
    var features = container.hasAttribute("data-features")
      ? Promise.resolve(JSON.parse(container.getAttribute("data-features")))
      : fetchJson(container.getAttribute("data-geojson-url"));
    Promise.all([land, features]).then(function (both) {
      draw(container, both[0], both[1]);
    }).catch(function (err) {
      container.setAttribute("data-ready", "error");
      container.textContent = "The map could not be drawn: " + err.message;
    });
  }

  window.lnxMap = { decodeArcs: decodeArcs, destination: destination };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".map[data-land-url]").forEach(load);
  });
})();
