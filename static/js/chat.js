// Chat page: one WebSocket per open tab (protocol: docs/protocol.md).
// The server is the truth: on every (re)connect the `ready` frame rebuilds the list from history,
// then unacknowledged messages are resent with their client_id, which the server stores once.
(function () {
  "use strict";
  const root = document.getElementById("chat");
  if (!root) return;
  const S = JSON.parse(document.getElementById("chat-strings").textContent);
  const list = document.getElementById("messages");
  const input = document.getElementById("message-input");
  const form = document.getElementById("composer");
  const sendButton = document.getElementById("send-button");
  const stopButton = document.getElementById("stop-button");
  const exitButton = document.getElementById("exit-button");
  const statusEl = document.getElementById("connection-status");
  const notice = document.getElementById("chat-notice");
  const disclosure = document.getElementById("disclosure");
  const closedPanel = document.getElementById("closed-panel");
  const closedText = document.getElementById("closed-text");
  const speakerBadge = document.getElementById("speaker-badge");
  const dialog = document.getElementById("reminder-dialog");
  const dialogTitle = document.getElementById("reminder-title");
  const dialogText = document.getElementById("reminder-text");
  const dialogAck = document.getElementById("reminder-ack");
  const modeBanner = document.getElementById("mode-banner");
  const crisisCard = document.getElementById("crisis-card");
  const crisisTitle = document.getElementById("crisis-title");
  const crisisText = document.getElementById("crisis-text");
  const crisisResources = document.getElementById("crisis-resources");
  const crisisReopenRow = document.getElementById("crisis-reopen-row");
  const crisisReopen = document.getElementById("crisis-reopen");
  const outboxKey = "outbox:" + root.dataset.slug;

  let sanctionNotice = null; // the last `notice` of kind sanction (shown when the socket closes)
  let serviceNotice = null; // the last `notice` of kind service_ended (shown when the socket closes)
  let blockedNotice = null; // the last `notice` of kind contacts or guardian_block (shown when the socket closes)
  let ws = null;
  let closedForGood = false;
  let lockReminder = null; // CN-MIN-10: the `time_limit` or `curfew` pop-up that comes before `closed`
  let leaving = false;
  let cutId = null; // the reply that was streaming when the user pressed exit
  let retry = 0;
  let streaming = null; // id of the message being streamed
  let outbox = loadOutbox();
  let heartbeatTimer = null;
  const reminders = []; // waiting to be shown, oldest first
  let shownReminder = null;

  function loadOutbox() {
    try { return JSON.parse(sessionStorage.getItem(outboxKey)) || []; } catch (e) { return []; }
  }
  function saveOutbox() { sessionStorage.setItem(outboxKey, JSON.stringify(outbox)); }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function setStatus(text, state) {
    statusEl.textContent = text;
    statusEl.dataset.state = state;
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function bubble({ id, author, label, text, status, clientId }) {
    const li = document.createElement("li");
    li.className = "msg msg-" + author;
    if (id) li.dataset.id = id;
    if (clientId) li.dataset.clientId = clientId;
    li.dataset.author = author;
    const meta = document.createElement("div");
    meta.className = "msg-meta";
    const badge = document.createElement("span");
    badge.className = "badge msg-label " + (author === "ai" ? "badge-ai" : author === "operator" ? "badge-human" : "badge-plain");
    // An operator's words are never shown under the AI label (CN-CRI-05).
    badge.textContent = label || (author === "operator" ? S.modes.human : S.you);
    meta.appendChild(badge);
    const body = document.createElement("div");
    body.className = "msg-text";
    body.textContent = text || "";
    li.append(meta, body);
    if (author === "ai") {
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "link-button copy-button";
      copy.textContent = S.copy;
      copy.addEventListener("click", () => copyMessage(li, copy));
      meta.appendChild(copy);
      // CN-CMP-01: every reply can be reported where it is read.
      const report = document.createElement("a");
      report.className = "report-link";
      report.textContent = S.report;
      report.dataset.testid = "report-message";
      report.hidden = !id;
      meta.appendChild(report);
      if (id) setReportLink(li, id);
    }
    setStatusNote(li, status);
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
    return li;
  }

  function setReportLink(li, id) {
    const link = li.querySelector(".report-link");
    if (!link) return;
    link.href = root.dataset.reportUrl + "?message=" + encodeURIComponent(id);
    link.hidden = false;
  }

  function setStatusNote(li, status) {
    const old = li.querySelector(".msg-status");
    if (old) old.remove();
    li.dataset.status = status || "complete";
    const text = { cancelled: S.stopped, failed: S.failed, interrupted: S.interrupted, not_sent: S.notSent }[status];
    if (text) {
      const note = document.createElement("span");
      note.className = "msg-status";
      note.textContent = text;
      li.querySelector(".msg-meta").appendChild(note);
    }
  }

  // CN-DIS-04: copied AI text carries its label.
  function copyMessage(li, button) {
    const text = li.querySelector(".msg-text").textContent + "\n" + S.copySuffix;
    navigator.clipboard.writeText(text).then(() => {
      button.textContent = S.copied;
      setTimeout(() => { button.textContent = S.copy; }, 1500);
    });
  }
  document.addEventListener("copy", (event) => {
    const selection = document.getSelection();
    if (!selection || selection.isCollapsed) return;
    const node = selection.anchorNode && selection.anchorNode.parentElement;
    if (node && node.closest(".msg-ai")) {
      event.clipboardData.setData("text/plain", selection.toString() + "\n" + S.copySuffix);
      event.preventDefault();
    }
  });

  function findById(id) { return list.querySelector('[data-id="' + CSS.escape(id) + '"]'); }
  function findByClientId(cid) { return list.querySelector('[data-client-id="' + CSS.escape(cid) + '"]'); }

  function setStreaming(id) {
    streaming = id;
    // While a person (or nobody yet) answers there is no generation to stop (CN-CRI-05).
    stopButton.hidden = !id || root.dataset.mode !== "ai";
    sendButton.disabled = Boolean(id);
  }

  function renderHistory(items) {
    list.replaceChildren();
    for (const item of items) {
      bubble({ id: item.id, author: item.author, label: item.label, text: item.text, status: item.status, clientId: item.client_id });
    }
    for (const pending of outbox) {
      if (!findByClientId(pending.client_id)) {
        bubble({ author: "user", label: S.you, text: pending.text, status: "pending", clientId: pending.client_id });
      }
    }
  }

  const handlers = {
    ready(frame) {
      retry = 0;
      setStatus(S.connected, "open");
      disclosure.textContent = frame.disclosure;
      setMode(frame.mode);
      setStreaming(null);
      root.dataset.pendingReminders = (frame.pending_reminders || []).length;
      renderHistory(frame.history);
      startHeartbeat((frame.limits && frame.limits.heartbeat_seconds) || 60);
      for (const pending of outbox) send({ type: "message", text: pending.text, client_id: pending.client_id });
    },
    message_ack(frame) {
      outbox = outbox.filter((p) => p.client_id !== frame.client_id);
      saveOutbox();
      const li = findByClientId(frame.client_id);
      if (li) { li.dataset.id = frame.id; setStatusNote(li, "complete"); }
    },
    message_start(frame) {
      if (!findById(frame.id)) bubble({ id: frame.id, author: frame.author, label: frame.label, text: "", status: "streaming" });
      if (frame.author === "ai") setStreaming(frame.id);
    },
    message_delta(frame) {
      const li = findById(frame.id);
      if (li) li.querySelector(".msg-text").textContent += frame.text;
      list.scrollTop = list.scrollHeight;
    },
    message_end(frame) {
      const li = findById(frame.id);
      if (li) {
        setStatusNote(li, frame.status);
        if (frame.aigc && frame.aigc.ProduceID) li.dataset.produceId = frame.aigc.ProduceID;
      }
      if (streaming === frame.id) setStreaming(null);
    },
    sync(frame) {
      for (const item of frame.messages) {
        const existing = findById(item.id) || (item.client_id && findByClientId(item.client_id));
        if (existing) {
          existing.dataset.id = item.id;
          existing.querySelector(".msg-text").textContent = item.text;
          setStatusNote(existing, item.status);
        } else {
          bubble({ id: item.id, author: item.author, label: item.label, text: item.text, status: item.status, clientId: item.client_id });
        }
      }
    },
    mode(frame) { setMode(frame.mode); },
    crisis(frame) { showCrisis(frame); },
    error(frame) {
      showNotice(frame.detail);
      if (frame.client_id) {
        outbox = outbox.filter((p) => p.client_id !== frame.client_id);
        saveOutbox();
        const li = findByClientId(frame.client_id);
        if (li) { setStatusNote(li, "not_sent"); input.value = input.value || li.querySelector(".msg-text").textContent; }
      }
    },
    // CN-CRI-09: a sanction's notice (measure, reason, how to appeal) comes just before `closed`.
    notice(frame) {
      if (frame.kind === "sanction") {
        sanctionNotice = frame;
        if (frame.action === "restrict") showNotice(frame.text);
      } else if (frame.kind === "scam_warning") {
        showScamWarning(frame);  // CN-ELD-04: a warning card; the reply still follows
      } else if (frame.kind === "service_ended") {
        serviceNotice = frame;  // CN-SVC-01: shown with its archive link when `closed` follows
      } else if (frame.kind === "contacts" || frame.kind === "guardian_block" || frame.kind === "minor_mode") {
        // CN-MIN-03, CN-REG-03 (contacts), CN-MIN-09 (the guardian turned this character off),
        // CN-MIN-05 (minor mode switched on, with the appeal link): why chat stopped, shown when `closed` follows.
        blockedNotice = frame;
      } else {
        showNotice(frame.text);
      }
    },
    closed(frame) {
      // A notice that came just before `closed` says why, with a link where one helps.
      if (frame.reason === "service_ended" && serviceNotice) {
        closeWithLink(serviceNotice.text, serviceNotice.link.url, serviceNotice.link.text, "archive-link");
        return;
      }
      if (frame.reason === "suspended" && sanctionNotice) {
        const appeal = sanctionNotice.appeal && sanctionNotice.appeal.url;
        closeWithLink(sanctionNotice.text, appeal && (sanctionNotice.appeal.page || appeal), S.appeal, "appeal-link");
        return;
      }
      if (frame.reason === "blocked" && blockedNotice) {
        const link = blockedNotice.link || {};
        closeWithLink(blockedNotice.text, link.url, link.text, "contacts-link");
        closedPanel.dataset.notice = blockedNotice.kind;
        return;
      }
      // CN-MIN-10: the time-limit or rest-hours pop-up just before says when chat reopens.
      const lock = frame.reason === "time_limit" || frame.reason === "curfew" ? lockReminder : null;
      closeForGood(lock && lock.kind === frame.reason ? lock.text : S.closed[frame.reason] || S.closed.exit);
      closedPanel.dataset.reason = frame.reason;
    },
    reminder(frame) {
      if (frame.kind === "time_limit" || frame.kind === "curfew") lockReminder = frame;
      const known = (shownReminder && shownReminder.id === frame.id) || reminders.some((r) => r.id === frame.id);
      if (!known) {
        reminders.push(frame);
        // CN-USE-01: besides the modal, the reminder stays readable as a line in the conversation.
        const line = bubble({ author: "system", label: S.reminderTitles[frame.kind] || S.reminderTitles.dependence,
                              text: frame.text, status: "complete" });
        line.classList.add("msg-reminder");
        line.dataset.reminderId = frame.id;
      }
      showNextReminder();
    },
  };

  // Reminders are modal and need an explicit "I understand" (CN-USE-01, CN-DIS-02); Escape does not dismiss them.
  function showNextReminder() {
    if (shownReminder || !reminders.length) return;
    shownReminder = reminders.shift();
    dialogTitle.textContent = S.reminderTitles[shownReminder.kind] || S.reminderTitles.dependence;
    dialogText.textContent = shownReminder.text;
    dialog.dataset.kind = shownReminder.kind;
    dialog.showModal();
    dialogAck.focus();
  }
  dialog.addEventListener("cancel", (event) => event.preventDefault());
  dialogAck.addEventListener("click", () => {
    if (!shownReminder) return;
    send({ type: "ack", reminder_id: shownReminder.id });
    shownReminder = null;
    dialog.close();
    showNextReminder();
  });

  // Reading a visible chat is use too: the server's one clock per user counts it (BX-07).
  function startHeartbeat(seconds) {
    clearInterval(heartbeatTimer);
    heartbeatTimer = setInterval(() => {
      if (document.visibilityState === "visible") send({ type: "heartbeat" });
    }, seconds * 1000);
  }

  function setMode(mode) {
    const known = mode === "waiting" || mode === "human" ? mode : "ai";
    root.dataset.mode = known;
    speakerBadge.textContent = S.modes[known] || S.modes.ai;
    speakerBadge.classList.toggle("badge-ai", known === "ai");
    speakerBadge.classList.toggle("badge-human", known !== "ai");
    // CN-CRI-05: in `waiting` and `human` the user keeps writing (to the safety team); nothing streams.
    for (const line of modeBanner.querySelectorAll(".mode-banner-text")) line.hidden = line.dataset.mode !== known;
    modeBanner.hidden = known === "ai";
    modeBanner.dataset.mode = known;
    if (known !== "ai" && streaming) setStreaming(null);
  }

  // A hotline becomes a tap-to-call link, a "text HOME to 741741" line a tap-to-text link (CN-CRI-04, US-CA-02).
  function resourceHref(contact) {
    const value = String(contact || "").trim();
    if (/^\+?[\d\s\-()]+$/.test(value) && /\d{3,}/.test(value)) return "tel:" + value.replace(/[^\d+]/g, "");
    if (/text|短信|发送/i.test(value)) {
      const numbers = value.match(/\d{3,}/g);
      if (!numbers) return null;
      const keyword = value.match(/\b[A-Z]{2,}\b/);
      return "sms:" + numbers[numbers.length - 1] + (keyword ? "?&body=" + encodeURIComponent(keyword[0]) : "");
    }
    return null;
  }

  function showCrisis(frame) {
    crisisCard.dataset.level = frame.level || "distress";
    crisisText.textContent = frame.text || "";
    // For high risk and crisis the same text is also a system message in the conversation: the card
    // then carries the heading and the tap-to-call lines only, so the user does not read it twice.
    crisisText.hidden = frame.level === "high_risk" || frame.level === "crisis";
    crisisResources.replaceChildren();
    for (const resource of frame.resources || []) {
      const li = document.createElement("li");
      const href = resourceHref(resource.contact);
      const name = document.createElement("span");
      name.className = "crisis-resource-name";
      name.textContent = resource.name;
      const contact = document.createElement(href ? "a" : "span");
      contact.className = "crisis-resource-contact";
      contact.textContent = resource.contact;
      if (href) contact.href = href;
      li.append(name, " ", contact);
      crisisResources.appendChild(li);
    }
    // The same crisis again after a reconnect respects a card the user put away; a new one is shown.
    const signature = JSON.stringify([frame.level, frame.text, frame.resources]);
    if (crisisCard.dataset.dismissed === signature) return;
    crisisCard.dataset.signature = signature;
    delete crisisCard.dataset.dismissed;
    crisisCard.hidden = false;
    crisisReopenRow.hidden = true;
  }
  document.getElementById("crisis-hide").addEventListener("click", () => {
    crisisCard.dataset.dismissed = crisisCard.dataset.signature || "";
    crisisCard.hidden = true;
    crisisReopenRow.hidden = false;
    crisisReopen.focus();
  });
  crisisReopen.addEventListener("click", () => {
    delete crisisCard.dataset.dismissed;
    crisisCard.hidden = false;
    crisisReopenRow.hidden = true;
    crisisTitle.focus();
  });

  // CN-ELD-04: the anti-fraud card for users aged 60+, with a tap-to-call hotline (96110 in CN).
  const scamCard = document.getElementById("scam-card");
  function showScamWarning(frame) {
    if (!scamCard) return;
    scamCard.replaceChildren();
    const title = document.createElement("h2");
    title.textContent = frame.title || "";
    const text = document.createElement("p");
    text.textContent = frame.text || "";
    scamCard.append(title, text);
    if (frame.hotline) {
      const line = document.createElement("p");
      line.className = "scam-hotline";
      const call = document.createElement("a");
      call.href = "tel:" + String(frame.hotline.contact).replace(/[^\d+]/g, "");
      call.textContent = frame.hotline.contact;
      call.dataset.testid = "scam-hotline";
      line.append(frame.hotline.name + " ", call);
      scamCard.appendChild(line);
    }
    const actions = document.createElement("p");
    if (frame.link && frame.link.url) {
      const more = document.createElement("a");
      more.href = frame.link.url;
      more.textContent = frame.link.text;
      actions.append(more, " ");
    }
    const hide = document.createElement("button");
    hide.type = "button";
    hide.className = "link-button";
    hide.textContent = scamCard.dataset.hideLabel;
    hide.addEventListener("click", () => { scamCard.hidden = true; input.focus(); });
    actions.appendChild(hide);
    scamCard.appendChild(actions);
    scamCard.hidden = false;
  }

  function closeForGood(text) {
    closedForGood = true;
    clearInterval(heartbeatTimer);
    reminders.length = 0; // leaving ends the pop-ups too: nothing stands between the user and the exit
    shownReminder = null;
    if (dialog.open) dialog.close();
    setStreaming(null);
    closedText.textContent = text;
    closedPanel.hidden = false;
    form.hidden = true;
    exitButton.disabled = true;
    setStatus("", "closed");
    if (ws && ws.readyState <= 1) ws.close();
  }
  function closeWithLink(text, url, linkText, testid) {
    closeForGood(text);
    if (!url) return;
    const link = document.createElement("a");
    link.href = url;
    link.textContent = linkText;
    link.dataset.testid = testid;
    closedText.append(" ", link);
  }


  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + root.dataset.wsPath);
    ws.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      // After the user pressed exit, nothing more from the model is shown (BX-17).
      if (leaving && (frame.author === "ai" || (frame.type === "message_delta" && frame.id === cutId))) return;
      const handler = handlers[frame.type];
      if (handler) handler(frame);
    });
    ws.addEventListener("close", () => {
      if (closedForGood) return;
      setStreaming(null);
      setStatus(S.reconnecting, "reconnecting");
      const delay = Math.min(15000, 500 * 2 ** retry++);
      setTimeout(connect, delay);
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || streaming) return;
    showNotice("");
    const pending = { client_id: newClientId(), text };
    outbox.push(pending);
    saveOutbox();
    bubble({ author: "user", label: S.you, text, status: "pending", clientId: pending.client_id });
    input.value = "";
    send({ type: "message", text, client_id: pending.client_id });
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  stopButton.addEventListener("click", () => send({ type: "cancel" }));
  // CN-USE-03 / BX-17: one click leaves, even mid-reply, while disconnected or from a reminder.
  document.getElementById("reminder-exit").addEventListener("click", () => {
    if (shownReminder) send({ type: "ack", reminder_id: shownReminder.id });
    exitButton.click();
  });
  exitButton.addEventListener("click", () => {
    if (ws && ws.readyState === WebSocket.OPEN) {
      closedForGood = true;
      leaving = true;
      cutId = streaming;
      setStreaming(null);
      reminders.length = 0;
      shownReminder = null;
      if (dialog.open) dialog.close();
      send({ type: "exit" });
    } else {
      closeForGood(S.closed.exit);
    }
  });

  setStatus(S.connecting, "connecting");
  connect();
})();
