package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeRPK is an rpk stand-in: `topic list` prints $FAKE_TOPICS (one name a
// line) under rpk's header, every call is appended to $FAKE_RPK_LOG, one
// argument a line and a blank line after each call.
const fakeRPK = `#!/usr/bin/env bash
set -eu
{ printf '%s\n' "$@"; echo; } >>"$FAKE_RPK_LOG"
if [[ "$1 $2" == "topic list" ]]; then
  echo "NAME  PARTITIONS  REPLICAS"
  for t in ${FAKE_TOPICS:-}; do echo "$t  12  1"; done
fi
`

type rpkCall []string

func (c rpkCall) String() string { return strings.Join(c, " ") }

// runCreateTopics runs helm/files/create-topics.sh against the fake rpk and
// returns the rpk calls and the script's combined output.
func runCreateTopics(t *testing.T, env map[string]string) ([]rpkCall, string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed: the topic script runs under bash in the Redpanda image")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rpk"), []byte(fakeRPK), 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "rpk.log")
	cmd := exec.Command(bash, filepath.Join(repoRoot(t), "helm/files/create-topics.sh"))
	cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "FAKE_RPK_LOG=" + logPath}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, runErr := cmd.CombinedOutput()
	raw, err := os.ReadFile(logPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var calls []rpkCall
	for _, block := range strings.Split(strings.TrimSuffix(string(raw), "\n\n"), "\n\n") {
		if block != "" {
			calls = append(calls, strings.Split(block, "\n"))
		}
	}
	return calls, string(out), runErr
}

func TestCreateTopicsScript(t *testing.T) {
	brokers := []string{"-X", "brokers=redpanda:9092"}
	base := map[string]string{"KAFKA_BOOTSTRAP_SERVERS": "redpanda:9092"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	infinite := []string{"-c", "retention.ms=-1", "-c", "retention.bytes=-1"}
	assertInfinite := []string{"--set", "retention.ms=-1", "--set", "retention.bytes=-1"}

	cases := []struct {
		name    string
		env     map[string]string
		want    []rpkCall
		wantErr string
	}{
		{
			name: "creates_both_topics_with_infinite_retention",
			env:  with(nil),
			want: []rpkCall{
				slices.Concat([]string{"topic", "list"}, brokers),
				slices.Concat([]string{"topic", "create", "memory.events"}, brokers, []string{"-p", "12", "-r", "1"}, infinite),
				slices.Concat([]string{"topic", "create", "memory.dlq"}, brokers, []string{"-p", "12", "-r", "1"}, infinite),
			},
		},
		{
			name: "uses_the_configured_names_and_sizes",
			env:  with(map[string]string{"KAFKA_MEMORY_EVENTS_TOPIC": "prod.events", "KAFKA_DLQ_TOPIC": "prod.dlq", "KAFKA_TOPIC_PARTITIONS": "48", "KAFKA_TOPIC_REPLICATION_FACTOR": "3"}),
			want: []rpkCall{
				slices.Concat([]string{"topic", "list"}, brokers),
				slices.Concat([]string{"topic", "create", "prod.events"}, brokers, []string{"-p", "48", "-r", "3"}, infinite),
				slices.Concat([]string{"topic", "create", "prod.dlq"}, brokers, []string{"-p", "48", "-r", "3"}, infinite),
			},
		},
		{
			name: "reasserts_infinite_retention_on_existing_topics",
			env:  with(map[string]string{"FAKE_TOPICS": "memory.events memory.dlq other"}),
			want: []rpkCall{
				slices.Concat([]string{"topic", "list"}, brokers),
				slices.Concat([]string{"topic", "alter-config", "memory.events"}, brokers, assertInfinite),
				slices.Concat([]string{"topic", "alter-config", "memory.dlq"}, brokers, assertInfinite),
			},
		},
		{
			name: "does_not_mistake_a_prefix_for_the_topic",
			env:  with(map[string]string{"FAKE_TOPICS": "memory.events.v0 memory.dlq"}),
			want: []rpkCall{
				slices.Concat([]string{"topic", "list"}, brokers),
				slices.Concat([]string{"topic", "create", "memory.events"}, brokers, []string{"-p", "12", "-r", "1"}, infinite),
				slices.Concat([]string{"topic", "alter-config", "memory.dlq"}, brokers, assertInfinite),
			},
		},
		{
			name: "leaves_existing_event_topic_when_finite_retention_is_allowed",
			env:  with(map[string]string{"FAKE_TOPICS": "memory.events", "KAFKA_ALLOW_FINITE_RETENTION": "true"}),
			want: []rpkCall{
				slices.Concat([]string{"topic", "list"}, brokers),
				slices.Concat([]string{"topic", "create", "memory.dlq"}, brokers, []string{"-p", "12", "-r", "1"}, infinite),
			},
		},
		{
			name: "passes_tls_and_sasl_settings",
			env: with(map[string]string{
				"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
				"KAFKA_SASL_USERNAME": "soma", "KAFKA_SASL_PASSWORD": "s3cret", "KAFKA_SSL_CA_LOCATION": "/certs/ca.pem",
				"FAKE_TOPICS": "memory.events memory.dlq",
			}),
			want: func() []rpkCall {
				auth := slices.Concat(brokers, []string{"-X", "tls.enabled=true", "-X", "tls.ca=/certs/ca.pem",
					"-X", "sasl.mechanism=SCRAM-SHA-512", "-X", "user=soma", "-X", "pass=s3cret"})
				return []rpkCall{
					slices.Concat([]string{"topic", "list"}, auth),
					slices.Concat([]string{"topic", "alter-config", "memory.events"}, auth, assertInfinite),
					slices.Concat([]string{"topic", "alter-config", "memory.dlq"}, auth, assertInfinite),
				}
			}(),
		},
		{
			name:    "rejects_an_unknown_security_protocol",
			env:     with(map[string]string{"KAFKA_SECURITY_PROTOCOL": "KERBEROS"}),
			wantErr: "KAFKA_SECURITY_PROTOCOL=KERBEROS",
		},
		{
			name:    "requires_bootstrap_servers",
			env:     map[string]string{},
			wantErr: "KAFKA_BOOTSTRAP_SERVERS is required",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls, out, err := runCreateTopics(t, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(out, tc.wantErr) {
					t.Fatalf("err %v, output %q: want a failure naming %q", err, out, tc.wantErr)
				}
				if len(calls) != 0 {
					t.Errorf("rpk called before the settings were checked: %v", calls)
				}
				return
			}
			if err != nil {
				t.Fatalf("script failed: %v\n%s", err, out)
			}
			if len(calls) != len(tc.want) {
				t.Fatalf("rpk calls:\n%v\nwant:\n%v", calls, tc.want)
			}
			for i := range calls {
				if !slices.Equal(calls[i], tc.want[i]) {
					t.Errorf("call %d:\n got %s\nwant %s", i, calls[i], tc.want[i])
				}
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("the script printed the SASL password")
			}
		})
	}
}
