// usagelog console: "Load more" on the logs, the date-range toggle, and
// exports run as jobs with a progress bar. Every page works without it
// except the job-only exports, which say so.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf"]');
  var csrf = meta ? meta.content : '';

  document.addEventListener('click', function (ev) {
    var more = ev.target.closest('#load-more');
    if (!more) return;
    ev.preventDefault();
    more.setAttribute('aria-busy', 'true');
    more.textContent = 'Loading…';
    fetch(more.dataset.rows, { credentials: 'same-origin' }).then(function (resp) {
      if (!resp.ok) throw new Error('HTTP ' + resp.status);
      var next = resp.headers.get('X-More');
      return resp.text().then(function (html) {
        // The rows are rendered and escaped by the server's templates.
        document.querySelector('#logs-table tbody').insertAdjacentHTML('beforeend', html);
        if (next) {
          more.href = '/logs?' + next;
          more.dataset.rows = '/logs/rows?' + next;
          more.textContent = 'Load more';
          more.removeAttribute('aria-busy');
        } else {
          more.remove();
        }
      });
    }).catch(function (err) {
      more.textContent = 'Could not load more rows (' + err.message + '): try again';
      more.removeAttribute('aria-busy');
    });
  });

  // Pick-lists: a search box over lists long enough to need one.
  document.querySelectorAll('.picklist').forEach(function (list) {
    var search = list.querySelector('.picklist-search');
    var items = list.querySelectorAll('label.check');
    if (!search || items.length < 8) return;
    search.hidden = false;
    search.addEventListener('input', function () {
      var q = search.value.toLowerCase();
      items.forEach(function (item) { item.hidden = q !== '' && item.textContent.toLowerCase().indexOf(q) < 0; });
    });
  });

  document.querySelectorAll('[data-toggles]').forEach(function (box) {
    var target = document.getElementById(box.dataset.toggles);
    var sync = function () {
      target.hidden = !box.checked;
      target.querySelectorAll('input').forEach(function (i) { i.disabled = !box.checked; });
    };
    box.addEventListener('change', sync);
    sync();
  });

  function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } };
    if (body) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) throw new Error((data.error && data.error.message) || ('HTTP ' + resp.status));
        return data;
      });
    });
  }

  document.querySelectorAll('form[data-job]').forEach(function (form) {
    var box = form.querySelector('.job');
    var bar = box.querySelector('progress');
    var text = box.querySelector('.job-text');
    var cancel = box.querySelector('.job-cancel');
    var submit = form.querySelector('button[type=submit]');
    var current = null;

    function finish(message, failed) {
      submit.disabled = false;
      cancel.hidden = true;
      text.textContent = message;
      box.classList.toggle('failed', !!failed);
      current = null;
    }

    function poll() {
      if (!current) return;
      api('GET', '/api/v1/exports/' + encodeURIComponent(current)).then(function (job) {
        if (job.rowsTotal) {
          bar.max = job.rowsTotal;
          bar.value = job.rowsWritten;
          text.textContent = job.rowsWritten.toLocaleString() + ' of ' + job.rowsTotal.toLocaleString() + ' rows';
        } else {
          bar.removeAttribute('value');
          text.textContent = job.status === 'queued' ? 'Waiting for a free worker…' : 'Working…';
        }
        if (job.status === 'succeeded') {
          bar.max = 1; bar.value = 1;
          finish(job.report === 'usage-reports'
            ? 'Done: two workbooks, ' + (job.recordCount || 0).toLocaleString() + ' users in the last year. Downloading…'
            : 'Done: ' + (job.recordCount || 0).toLocaleString() + ' rows. Downloading…');
          box.dataset.downloadUrl = job.downloadUrl;
          window.location.assign(job.downloadUrl);
        } else if (job.status === 'failed' || job.status === 'cancelled') {
          finish(job.status === 'failed' ? 'Failed: ' + job.error : 'Cancelled.', true);
        } else {
          setTimeout(poll, 500);
        }
      }).catch(function (err) { finish('Could not follow the export: ' + err.message, true); });
    }

    cancel.addEventListener('click', function () {
      if (current) api('DELETE', '/api/v1/exports/' + encodeURIComponent(current)).catch(function () {});
    });

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      var report = form.dataset.job || form.querySelector('[data-report]').value;
      var body = { report: report, filters: {} };
      form.querySelectorAll('[data-filter]').forEach(function (el) {
        if (!el.disabled && el.value !== '') body.filters[el.name] = [el.value];
      });
      var format = form.querySelector('input[name=format]:checked');
      if (format) body.format = format.value;
      var tz = form.querySelector('[data-timezone]');
      if (tz) body.timezone = tz.value;
      submit.disabled = true;
      box.hidden = false;
      box.classList.remove('failed');
      cancel.hidden = false;
      bar.removeAttribute('value');
      text.textContent = 'Starting…';
      api('POST', '/api/v1/exports', body).then(function (job) {
        current = job.id;
        box.dataset.jobId = job.id;
        poll();
      }).catch(function (err) { finish(err.message, true); });
    });
  });
})();
