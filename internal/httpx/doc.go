// Package httpx is the HTTP platform shared by the write API and the query
// API: one gin engine per API with the same middleware chain, the same public
// routes (/, /healthz, /health, /readyz, /metrics, /openapi.json, /docs), the
// same authentication, tenant resolution, rate limiting and body limits, and
// the same error bodies.
//
// Request flow on an engine built by New:
//
//	request id → access log → metrics → recovery → router
//	  public routes (no auth)
//	  API group: auth → rate limit → namespace check → body limit → handler
//	  unknown route → 404 {"detail":"Not Found"}, wrong method → 405
//
// Recovery sits after the access log and the metrics so that a panicking
// request is logged and counted with its 500 status.
//
// Handlers registered on Server.API read the tenant and the caller with
// Namespace(c) and Actor(c), decode bodies with BindJSON and answer errors
// with Error, ValidationError and Unavailable, so every API speaks the same
// FastAPI-compatible error shapes.
//
// The package never reads the environment: cmd/ fills Config.
package httpx
