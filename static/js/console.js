// Safety-team console: one WebSocket (/ws/console/) carries the live queue, presence and the opened case.
// The server is the truth: every `queue` frame replaces the list, and after a reconnect the opened case is
// asked for again, so nothing here has to be reconciled by hand (CN-CRI-05, CN-CRI-08).
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root) return;
  const S = JSON.parse(document.getElementById("console-strings").textContent);
  const LEVELS = JSON.parse(document.getElementById("console-levels").textContent);
  const STATUSES = JSON.parse(document.getElementById("console-statuses").textContent);
  const CATEGORIES = JSON.parse(document.getElementById("console-categories").textContent);
  const categoryNames = (item) => (item.categories || []).map((c) => CATEGORIES[c] || c).join(", ");
  const LEVEL_RANK = { crisis: 0, high_risk: 1, distress: 2 };
  const HEARTBEAT_MS = 30000;
  const NEW_HIGHLIGHT_MS = 15000;
  const me = Number(root.dataset.me);
  const slaSeconds = Number(root.dataset.slaSeconds) || 180;
  const $ = (id) => document.getElementById(id);

  const queueEl = $("case-queue");
  const queueEmpty = $("queue-empty");
  const queueCount = $("queue-count");
  const operatorsEl = $("operators-online");
  const operatorsEmpty = $("operators-empty");
  const connection = $("console-connection");
  const notice = $("console-notice");
  const banner = $("escalation-banner");
  const bannerText = $("escalation-text");
  const placeholder = $("case-placeholder");
  const caseView = $("case-view");
  const caseTitle = $("case-title");
  const messagesEl = $("case-messages");
  const composer = $("case-composer");
  const input = $("case-input");
  const sendButton = $("case-send");
  const claimButton = $("claim-button");
  const handbackButton = $("handback-button");
  const resolveButton = $("resolve-button");
  const handbackDialog = $("handback-dialog");
  const resolveDialog = $("resolve-dialog");

  let ws = null;
  let retry = 0;
  let heartbeatTimer = null;
  let cases = new Map(); // id -> CASE, as the last `queue` (and later updates) described them
  let selected = null; // id of the case shown on the right
  let escalatedCase = null; // id the banner is about
  let flashTimer = null;
  const freshUntil = new Map(); // id -> time until which the row is highlighted as new
  const baseTitle = document.title;
  // Operator messages not yet confirmed; resent with the same client_id after a reconnect (stored once).
  let outbox = [];

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
  }

  function duration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = String(total % 60).padStart(2, "0");
    return hours ? hours + ":" + String(minutes).padStart(2, "0") + ":" + seconds : minutes + ":" + seconds;
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  function deadlineOf(item) {
    const deadline = Date.parse(item.sla_deadline);
    return Number.isNaN(deadline) ? Date.parse(item.opened_at) + slaSeconds * 1000 : deadline;
  }

  function isMine(item) { return Boolean(item.claimed_by) && item.claimed_by.id === me; }

  function claimedText(item) {
    if (!item.claimed_by) return S.nobody;
    return isMine(item) ? S.claimedByYou : fill(S.claimedBy, { name: item.claimed_by.name });
  }

  function caseName(item) {
    return fill(S.withCharacter, { user: item.user.name, character: item.character.name });
  }

  // CN-CRI-08: the acceptance clock runs only while nobody has the case.
  function slaText(item, now) {
    if (item.status !== "waiting") return { text: "", overdue: false };
    const left = deadlineOf(item) - now;
    if (left >= 0) return { text: fill(S.dueIn, { time: duration(left) }), overdue: false };
    return { text: fill(S.overdue, { time: duration(-left) }), overdue: true };
  }

  function sortedCases() {
    return Array.from(cases.values()).sort((a, b) =>
      (LEVEL_RANK[a.level] ?? 9) - (LEVEL_RANK[b.level] ?? 9) || Date.parse(a.opened_at) - Date.parse(b.opened_at));
  }

  function span(className, text) {
    const el = document.createElement("span");
    el.className = className;
    el.textContent = text;
    return el;
  }

  function buildRow(item) {
    const li = document.createElement("li");
    li.className = "case-row";
    li.dataset.caseId = item.id;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "case-row-button";
    button.addEventListener("click", () => openCase(item.id));
    li.appendChild(button);
    return li;
  }

  function renderRow(li, item, now) {
    li.dataset.level = item.level;
    li.dataset.status = item.status;
    li.dataset.user = item.user.name;
    li.dataset.escalated = item.escalated ? "true" : "false";
    li.classList.toggle("is-new", (freshUntil.get(item.id) || 0) > now);
    const button = li.firstChild;
    button.setAttribute("aria-current", selected === item.id ? "true" : "false");
    const top = document.createElement("span");
    top.className = "case-row-top";
    top.append(span("level-badge level-" + item.level, LEVELS[item.level] || item.level),
               span("case-row-name", caseName(item)));
    if (li.classList.contains("is-new")) top.append(span("new-badge", S.newCase));
    if (item.escalated) top.append(span("escalated-badge", S.escalated));
    const categories = span("case-row-categories", categoryNames(item) || S.none);
    const bottom = document.createElement("span");
    bottom.className = "case-row-bottom";
    const sla = slaText(item, now);
    const slaEl = span("sla", sla.text);
    slaEl.dataset.overdue = sla.overdue ? "true" : "false";
    bottom.append(span("status-badge status-" + item.status, STATUSES[item.status] || item.status),
                  span("case-row-wait", fill(S.waitingFor, { time: duration(now - Date.parse(item.opened_at)) })),
                  slaEl, span("case-row-claimed", claimedText(item)));
    button.replaceChildren(top, categories, bottom);
  }

  function renderQueue() {
    const now = Date.now();
    const ordered = sortedCases();
    const rows = new Map(Array.from(queueEl.children, (li) => [li.dataset.caseId, li]));
    for (const [id, li] of rows) if (!cases.has(id)) li.remove();
    ordered.forEach((item, index) => {
      let li = rows.get(item.id);
      if (!li) li = buildRow(item);
      renderRow(li, item, now);
      // Rows are moved only when the order changed, so a screen reader hears arrivals, not every tick.
      if (queueEl.children[index] !== li) queueEl.insertBefore(li, queueEl.children[index] || null);
    });
    queueCount.textContent = String(ordered.length);
    queueEmpty.hidden = ordered.length > 0;
  }

  function tick() {
    const now = Date.now();
    for (const li of queueEl.children) {
      const item = cases.get(li.dataset.caseId);
      if (!item) continue;
      li.classList.toggle("is-new", (freshUntil.get(item.id) || 0) > now);
      const sla = slaText(item, now);
      const slaEl = li.querySelector(".sla");
      slaEl.textContent = sla.text;
      slaEl.dataset.overdue = sla.overdue ? "true" : "false";
      li.querySelector(".case-row-wait").textContent = fill(S.waitingFor, { time: duration(now - Date.parse(item.opened_at)) });
      const badge = li.querySelector(".new-badge");
      if (badge && !li.classList.contains("is-new")) badge.remove();
    }
    if (selected && cases.has(selected)) renderCaseSla(cases.get(selected), now);
    renderCallDeadline(now);
  }

  function renderOperators(operators) {
    operatorsEl.replaceChildren();
    for (const operator of operators) {
      const li = document.createElement("li");
      li.dataset.operatorId = operator.id;
      li.textContent = operator.id === me ? operator.name + " (" + S.you + ")" : operator.name;
      operatorsEl.appendChild(li);
    }
    operatorsEmpty.hidden = operators.length > 0;
  }

  // --- the opened case -------------------------------------------------------------------------

  function renderCaseSla(item, now) {
    const sla = slaText(item, now);
    const el = $("case-sla");
    el.textContent = sla.text;
    el.hidden = !sla.text;
    el.dataset.overdue = sla.overdue ? "true" : "false";
  }

  function renderCase(item) {
    placeholder.hidden = true;
    caseView.hidden = false;
    caseView.dataset.caseId = item.id;
    caseView.dataset.status = item.status;
    caseTitle.textContent = caseName(item);
    const level = $("case-level");
    level.className = "level-badge level-" + item.level;
    level.textContent = LEVELS[item.level] || item.level;
    const status = $("case-status");
    status.className = "status-badge status-" + item.status;
    status.textContent = STATUSES[item.status] || item.status;
    const band = item.user.age_band;
    $("case-flag-minor").hidden = !(band === "minor" || band === "child");
    $("case-flag-elderly").hidden = band !== "elderly";
    $("case-region").textContent = item.user.region;
    $("case-categories").textContent = categoryNames(item) || S.none;
    $("case-contacts").textContent = String(item.contacts_notified);
    $("case-claimed").textContent = claimedText(item);
    renderCaseSla(item, Date.now());
    const sanctionLink = $("sanction-link");  // compliance officers only (CN-CRI-09)
    if (sanctionLink) sanctionLink.href = sanctionLink.dataset.base + "?case=" + encodeURIComponent(item.id);
    const mine = isMine(item);
    const open = item.status !== "resolved";
    // The first operator to accept owns the case; only the owner writes or hands back (CN-CRI-05).
    claimButton.disabled = !open || item.status === "human";
    handbackButton.disabled = !(mine && item.status === "human");
    resolveButton.disabled = !open || !(mine || item.status === "handed_back");
    const canWrite = mine && item.status === "human";
    input.disabled = !canWrite;
    sendButton.disabled = !canWrite;
    $("composer-hint").hidden = canWrite;
  }

  // CN-CRI-07: the people to phone for this case, the call deadline, and a log of every call.
  let callDeadline = null;

  function renderCallDeadline(now) {
    const el = $("call-deadline");
    if (!callDeadline) { el.textContent = ""; return; }
    const left = callDeadline - now;
    el.textContent = left >= 0 ? fill(S.callWithin, { time: duration(left) }) : fill(S.callOverdue, { time: duration(-left) });
    el.dataset.overdue = left < 0 ? "true" : "false";
  }

  function renderCalls(contacts, deadline) {
    const section = $("case-calls");
    const list = $("call-list");
    list.replaceChildren();
    section.hidden = contacts.length === 0;
    const reached = contacts.some((c) => c.calls.some((call) => call.outcome === "reached" || call.outcome === "declined"));
    callDeadline = deadline && !reached ? Date.parse(deadline) : null;
    renderCallDeadline(Date.now());
    for (const contact of contacts) {
      const li = document.createElement("li");
      li.className = "call-contact";
      li.dataset.contactId = String(contact.id);
      const who = span("call-who", (S.contactKinds[contact.kind] || contact.kind) + ": " + contact.name +
                       (contact.relationship ? " (" + contact.relationship + ")" : ""));
      li.append(who, document.createTextNode(" "));
      if (contact.phone) {
        const link = document.createElement("a");
        link.href = "tel:" + contact.phone;
        link.textContent = contact.phone;
        li.append(link);
      } else {
        li.append(span("hint", S.noPhone));
      }
      const logged = document.createElement("ul");
      logged.className = "call-log";
      for (const call of contact.calls) {
        const entry = document.createElement("li");
        entry.textContent = fill(S.callLogged, { outcome: S.callOutcomes[call.outcome] || call.outcome,
                                                 time: new Date(call.at).toLocaleTimeString() });
        logged.append(entry);
      }
      const form = document.createElement("form");
      form.className = "call-form";
      const select = document.createElement("select");
      select.name = "outcome";
      select.setAttribute("aria-label", S.logCall);
      for (const [value, label] of Object.entries(S.callOutcomes)) {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = label;
        select.append(option);
      }
      const note = document.createElement("input");
      note.name = "note";
      note.maxLength = 1000;
      note.placeholder = S.callNote;
      note.setAttribute("aria-label", S.callNote);
      const button = document.createElement("button");
      button.type = "submit";
      button.className = "button small";
      button.textContent = S.logCall;
      button.dataset.testid = "log-call";
      form.append(select, note, button);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        send({ type: "log_call", case: selected, contact: contact.id, outcome: select.value, note: note.value });
      });
      li.append(logged, form);
      list.append(li);
    }
  }

  function showResolved() {
    caseView.hidden = true;
    placeholder.hidden = false;
    placeholder.textContent = S.resolved;
    selected = null;
    closeDialogs();
  }

  function findMessage(message) {
    const byId = message.id && messagesEl.querySelector('[data-id="' + CSS.escape(message.id) + '"]');
    if (byId) return byId;
    return message.client_id ? messagesEl.querySelector('[data-client-id="' + CSS.escape(message.client_id) + '"]') : null;
  }

  function renderMessage(message) {
    const li = findMessage(message) || document.createElement("li");
    li.className = "cmsg cmsg-" + message.author;
    if (message.id) li.dataset.id = message.id;
    if (message.client_id) li.dataset.clientId = message.client_id;
    li.dataset.author = message.author;
    li.dataset.status = message.status || "complete";
    const meta = document.createElement("div");
    meta.className = "cmsg-meta";
    meta.append(span("badge cmsg-label cmsg-label-" + message.author, message.label || S.authors[message.author] || message.author));
    if (message.created_at) {
      const time = document.createElement("time");
      time.dateTime = message.created_at;
      time.textContent = new Date(message.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      meta.append(time);
    }
    const note = { pending: S.sending, not_sent: S.notSent }[message.status];
    if (note) meta.append(span("cmsg-status", note));
    const body = document.createElement("div");
    body.className = "cmsg-text";
    body.textContent = message.text || "";
    li.replaceChildren(meta, body);
    if (!li.parentNode) messagesEl.appendChild(li);
    messagesEl.scrollTop = messagesEl.scrollHeight;
    return li;
  }

  function openCase(id) {
    selected = String(id);
    placeholder.hidden = true;
    messagesEl.replaceChildren();
    const item = cases.get(selected);
    if (item) renderCase(item);
    renderQueue();
    send({ type: "open", case: selected });
    if (escalatedCase === selected) { banner.hidden = true; stopFlashing(); }
    caseTitle.focus();
  }

  // --- escalation (CN-CRI-08): loud on screen, silent on the speakers --------------------------

  function escalate(item) {
    escalatedCase = item.id;
    bannerText.textContent = fill(S.escalationText, {
      user: caseName(item), level: LEVELS[item.level] || item.level,
      time: duration(Date.now() - Date.parse(item.opened_at)),
    });
    banner.hidden = false;
    clearInterval(flashTimer);
    let on = false;
    flashTimer = setInterval(() => {
      on = !on;
      document.title = on ? "⚠ " + S.titleFlash + " · " + baseTitle : baseTitle;
    }, 1000);
  }

  function stopFlashing() {
    clearInterval(flashTimer);
    flashTimer = null;
    document.title = baseTitle;
  }

  $("escalation-open").addEventListener("click", () => {
    const id = escalatedCase;
    banner.hidden = true;
    stopFlashing();
    if (id && cases.has(id)) openCase(id);
  });
  $("escalation-dismiss").addEventListener("click", () => {
    banner.hidden = true;
    stopFlashing();
  });

  // --- frames ----------------------------------------------------------------------------------

  // Ids are compared as strings whatever JSON type the server used.
  function normalise(item) { return Object.assign({}, item, { id: String(item.id) }); }

  function upsert(raw) {
    const item = normalise(raw);
    if (item.status === "resolved") cases.delete(item.id);
    else cases.set(item.id, item);
    return item;
  }

  const handlers = {
    queue(frame) {
      // The first frame after (re)connecting: only now is the console live.
      retry = 0;
      if (connection.dataset.state !== "open") setConnection(S.connected, "open");
      cases = new Map(frame.cases.map((raw) => { const item = normalise(raw); return [item.id, item]; }));
      renderQueue();
      if (frame.operators) renderOperators(frame.operators);
      if (selected && cases.has(selected)) renderCase(cases.get(selected));
      else if (selected) showResolved();
      if (escalatedCase && !cases.has(escalatedCase)) { banner.hidden = true; stopFlashing(); }
    },
    case_opened(frame) {
      const item = normalise(frame.case);
      freshUntil.set(item.id, Date.now() + NEW_HIGHLIGHT_MS);
      upsert(item);
      renderQueue();
      $("console-announcer").textContent = fill(S.newCaseAnnounce, {
        level: LEVELS[item.level] || item.level, user: item.user.name });
    },
    case_updated(frame) {
      const item = upsert(frame.case);
      renderQueue();
      if (selected === item.id) {
        if (item.status === "resolved") showResolved();
        else renderCase(item);
      }
      if (escalatedCase === item.id && item.status !== "waiting") { banner.hidden = true; stopFlashing(); }
    },
    escalation(frame) {
      const item = upsert(frame.case);
      renderQueue();
      if (selected === item.id) renderCase(item);
      escalate(item);
    },
    case_detail(frame) {
      const item = normalise(frame.case);
      if (item.id !== selected) return;
      upsert(item);
      renderCase(item);
      renderCalls(frame.contacts || [], frame.call_deadline);
      messagesEl.replaceChildren();
      for (const message of frame.messages) renderMessage(message);
      for (const pending of outbox.filter((p) => p.case === selected)) {
        if (!findMessage(pending)) renderMessage({ author: "operator", text: pending.text, status: "pending", client_id: pending.client_id });
      }
    },
    case_message(frame) {
      if (String(frame.case) !== selected) return;
      renderMessage(frame.message);
    },
    sent(frame) {
      const pending = outbox.find((p) => p.client_id === frame.client_id);
      outbox = outbox.filter((p) => p.client_id !== frame.client_id);
      const li = messagesEl.querySelector('[data-client-id="' + CSS.escape(frame.client_id) + '"]');
      if (li && !messagesEl.querySelector('[data-id="' + CSS.escape(frame.id) + '"]')) {
        li.dataset.id = frame.id;
        li.dataset.status = "complete";
        const status = li.querySelector(".cmsg-status");
        if (status) status.remove();
      } else if (li && li.dataset.id !== frame.id) {
        li.remove(); // the live copy arrived first; keep that one
      }
      if (!li && pending && pending.case === selected) {
        renderMessage({ id: frame.id, author: "operator", text: pending.text, status: "complete", client_id: frame.client_id });
      }
    },
    presence(frame) { renderOperators(frame.operators); },
    error(frame) {
      showNotice(frame.detail || frame.code);
      if (frame.client_id) {
        outbox = outbox.filter((p) => p.client_id !== frame.client_id);
        const li = messagesEl.querySelector('[data-client-id="' + CSS.escape(frame.client_id) + '"]');
        if (li) {
          li.dataset.status = "not_sent";
          if (!input.value) input.value = li.querySelector(".cmsg-text").textContent;
        }
      }
    },
  };

  // --- actions ---------------------------------------------------------------------------------

  claimButton.addEventListener("click", () => {
    if (!selected) return;
    showNotice("");
    send({ type: "claim", case: selected });
  });

  function closeDialogs() {
    for (const dialog of [handbackDialog, resolveDialog]) if (dialog.open) dialog.close();
  }
  for (const button of document.querySelectorAll(".console-dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }

  handbackButton.addEventListener("click", () => {
    if (!selected) return;
    $("handback-note").value = "";
    handbackDialog.showModal();
    $("handback-note").focus();
  });
  $("handback-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const note = $("handback-note").value.trim();
    if (!note || !selected) { $("handback-note").focus(); return; }
    showNotice("");
    send({ type: "handback", case: selected, note });
    handbackDialog.close();
  });

  resolveButton.addEventListener("click", () => {
    if (!selected) return;
    $("resolve-follow-up").value = "";
    resolveDialog.showModal();
    $("resolve-outcome").focus();
  });
  $("resolve-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!selected) return;
    showNotice("");
    send({ type: "resolve", case: selected, outcome: $("resolve-outcome").value,
           follow_up: $("resolve-follow-up").value.trim() });
    resolveDialog.close();
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !selected || input.disabled) return;
    showNotice("");
    const pending = { case: selected, client_id: newClientId(), text };
    outbox.push(pending);
    renderMessage({ author: "operator", text, status: "pending", client_id: pending.client_id });
    input.value = "";
    send({ type: "send", case: pending.case, text, client_id: pending.client_id });
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  // --- connection ------------------------------------------------------------------------------

  function setConnection(text, state) {
    connection.textContent = text;
    connection.dataset.state = state;
  }

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + root.dataset.wsPath);
    ws.addEventListener("open", () => {
      clearInterval(heartbeatTimer);
      heartbeatTimer = setInterval(() => send({ type: "heartbeat" }), HEARTBEAT_MS);
      if (selected) send({ type: "open", case: selected });
      for (const pending of outbox) send({ type: "send", case: pending.case, text: pending.text, client_id: pending.client_id });
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      const handler = handlers[frame.type];
      if (handler) handler(frame);
    });
    ws.addEventListener("close", (event) => {
      clearInterval(heartbeatTimer);
      // Signed out or no longer on the safety team: retrying cannot help.
      if (event.code === 4401 || event.code === 4403) {
        setConnection(S.signedOut, "closed");
        showNotice(S.signedOut);
        return;
      }
      setConnection(S.reconnecting, "reconnecting");
      const delay = Math.min(15000, 500 * 2 ** retry++);
      setTimeout(connect, delay);
    });
  }

  setInterval(tick, 1000);
  setConnection(S.connecting, "connecting");
  renderQueue();
  connect();
})();
