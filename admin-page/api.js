// The control-plane API client: bearer token, JSON bodies, and every error turned into an
// ApiError carrying the problem+json document (type, title, status, detail, request_id).

export class ApiError extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || 'Request failed');
    this.problem = problem;
    this.status = problem.status;
  }
}

export function makeApi(config, token, onUnauthorized) {
  const base = (config.apiBase || '').replace(/\/$/, '');

  async function send(method, path, body, accept) {
    const headers = { authorization: `Bearer ${token()}`, accept };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${base}${path}`, init);
    } catch (error) {
      throw new ApiError({ title: 'Network error', status: 0, detail: `The API could not be reached (${error.message}).` });
    }
    if (response.ok) return response;
    const type = response.headers.get('content-type') || '';
    let problem;
    if (type.includes('json')) {
      problem = await response.json().catch(() => null);
    }
    if (!problem || typeof problem !== 'object') {
      problem = { title: response.statusText || 'Error', status: response.status, detail: `HTTP ${response.status}` };
    }
    problem.status = problem.status || response.status;
    problem.request_id = problem.request_id || response.headers.get('x-request-id') || undefined;
    const retryAfter = response.headers.get('retry-after');
    if (retryAfter) problem.retry_after = retryAfter;
    const error = new ApiError(problem);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }

  return {
    async json(method, path, body) {
      const response = await send(method, path, body, 'application/json');
      if (response.status === 204) return null;
      return response.json();
    },
    async text(path) {
      const response = await send('GET', path, undefined, 'text/csv, text/plain');
      return response.text();
    },
    get(path) { return this.json('GET', path); },
    post(path, body) { return this.json('POST', path, body); },
    put(path, body) { return this.json('PUT', path, body); },
    patch(path, body) { return this.json('PATCH', path, body); },
    del(path) { return this.json('DELETE', path); },
  };
}

/** `/admin/tenants/{id}` with the id encoded. */
export function tenantPath(tenantId, rest = '') {
  return `/admin/tenants/${encodeURIComponent(tenantId)}${rest}`;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
