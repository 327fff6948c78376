// Package deploytest checks the deployment artefacts: docker-compose.yml,
// docker-compose.dev.yml, the Dockerfile, .dockerignore, the Helm chart in
// helm/ and the topic script it shares with compose.
//
// No container engine or cluster is needed: each artefact is parsed, linted
// or rendered with its ecosystem's own libraries (compose-go, BuildKit's
// Dockerfile parser, the Helm SDK) and the result is decoded strictly into
// the real API types (k8s.io/api) before its fields are asserted. The
// environment it sets is checked against .env.example and loaded with
// internal/config, so a deployment that soma itself would refuse fails here.
//
// The package lives apart because it compiles slowly (Helm and Kubernetes).
package deploytest
