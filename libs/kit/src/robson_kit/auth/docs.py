"""API docs served by the service itself, never from a CDN.

Swagger UI's files come from the ``swagger-ui-bundle`` package (a kit dependency), served under
``/docs/assets`` (``persistAuthorization`` on, the online validator badge off, so nothing is
fetched from elsewhere). Without the package, ``/docs`` is a small self-contained page built
from ``/openapi.json``: every operation, an "Authorize" box for the bearer token, and a form to
try each request. The OpenAPI document declares the bearer scheme either way."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles


def _swagger_assets() -> Path | None:
    try:
        module = importlib.import_module("swagger_ui_bundle")
    except ImportError:
        return None
    path = Path(getattr(module, "swagger_ui_path", ""))
    return path if (path / "swagger-ui-bundle.js").is_file() else None


VALIDATION_ERROR = {
    "title": "ValidationError", "type": "object", "required": ["field", "message", "type"],
    "properties": {"field": {"type": "string", "description": "e.g. body.price, query.limit"},
                   "message": {"type": "string"}, "type": {"type": "string"}},
}
"""The kit's 422 item (``robson_kit.app``), not FastAPI's ``loc``/``msg``: the document says
what the services send."""
HTTP_VALIDATION_ERROR = {
    "title": "HTTPValidationError", "type": "object", "required": ["detail"],
    "properties": {"detail": {"anyOf": [
        {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
        {"type": "string"},
        {"type": "object", "description": "{reason_code, message} from a domain rule"},
    ]}},
}
"""A 422 carries field errors, or a domain refusal as a message or ``{reason_code, message}``."""


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.get("components", {}).get("schemas", {})
            if "ValidationError" in components:
                components["ValidationError"] = VALIDATION_ERROR
                components["HTTPValidationError"] = HTTP_VALIDATION_ERROR
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    install_openapi(app)
    assets = _swagger_assets()
    if assets is not None:
        app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if assets is not None:
            return get_swagger_ui_html(
                openapi_url="/openapi.json", title=f"{app.title} — API",
                swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                swagger_css_url="/docs/assets/swagger-ui.css", swagger_favicon_url="",
                swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None})
        return HTMLResponse(PAGE.replace("__TITLE__", app.title))


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>__TITLE__ — API</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}
details{border:1px solid #ccc;border-radius:4px;margin:.4em 0;padding:.3em .6em}
summary{cursor:pointer}.m{display:inline-block;width:4.5em;font-weight:bold}
.GET{color:#2a7}.POST{color:#27a}.PUT{color:#a72}.DELETE{color:#a22}
textarea,input{font:12px monospace;width:100%;box-sizing:border-box}pre{background:#f4f4f4;padding:.5em;overflow:auto}
#auth{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ccc}</style></head>
<body><h1>__TITLE__</h1><div id="auth"><b>Authorize</b> (bearer token, e.g. from
<code>robson token create --scope read</code>): <input id="token" type="password"
placeholder="eyJ…"><button onclick="save()">Authorize</button> <span id="state"></span></div>
<div id="ops">loading /openapi.json…</div><script>
const tok=document.getElementById('token');tok.value=sessionStorage.getItem('robson_token')||'';
function save(){sessionStorage.setItem('robson_token',tok.value);
document.getElementById('state').textContent=tok.value?'authorized':'no token'}save();
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
async function run(id,method,path){const f=document.getElementById(id);let url=path;const q=new URLSearchParams();
for(const i of f.querySelectorAll('input[data-in]')){if(!i.value)continue;
if(i.dataset.in==='path')url=url.replace('{'+i.name+'}',encodeURIComponent(i.value));else q.append(i.name,i.value)}
const h={};if(tok.value)h['Authorization']='Bearer '+tok.value;const b=f.querySelector('textarea');
let body;if(b&&b.value.trim()){h['Content-Type']='application/json';body=b.value}
const r=await fetch(url+(q.toString()?'?'+q:''),{method,headers:h,body});
f.querySelector('pre').textContent=r.status+' '+r.statusText+'\\n'+await r.text()}
fetch('/openapi.json').then(r=>r.json()).then(doc=>{let html='',n=0;
for(const[path,item]of Object.entries(doc.paths))for(const[m,op]of Object.entries(item)){const id='op'+(n++);
const M=m.toUpperCase();html+=`<details><summary><span class="m ${M}">${M}</span><code>${esc(path)}</code>
${esc(op.summary||'')}</summary><form id="${id}" onsubmit="run('${id}','${M}','${esc(path)}');return false">
<p>${esc(op.description||'')}</p>`;for(const p of op.parameters||[])html+=`<label>${esc(p.in)} <b>${esc(p.name)}</b>
${p.required?'(required)':''}<input name="${esc(p.name)}" data-in="${esc(p.in)}"></label>`;
if(op.requestBody)html+=`<label>JSON body<textarea rows="6"></textarea></label>`;
html+=`<button>Send</button><pre></pre></form></details>`}document.getElementById('ops').innerHTML=html});
</script></body></html>"""
