package schemas

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/somafractalmemory/soma/domain"
)

func TestRegister(t *testing.T) {
	ctx := context.Background()
	cat := builtinCatalog(t)
	url := testRegistryURL(t)
	topic := uniqueTopic()
	rc := newTestClient(t, url, topic, cat)

	first, err := rc.Register(ctx)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if len(first) != len(DomainEvents()) {
		t.Fatalf("registered %v", first)
	}

	t.Run("is_idempotent", func(t *testing.T) {
		second, err := rc.Register(ctx)
		if err != nil {
			t.Fatalf("second Register: %v", err)
		}
		if !equalRefs(first, second) {
			t.Fatalf("ids changed:\n%v\n%v", first, second)
		}
		other := newTestClient(t, url, topic, cat)
		third, err := other.Register(ctx)
		if err != nil || !equalRefs(first, third) {
			t.Fatalf("another client: %v %v", third, err)
		}
	})

	t.Run("sets_backward_transitive_on_each_subject", func(t *testing.T) {
		for _, event := range cat.Events() {
			level, err := rc.client.GetCompatibilityLevel(rc.Subject(event), false)
			if err != nil || *level != srclient.BackwardTransitive {
				t.Errorf("%s: level %v, %v", rc.Subject(event), level, err)
			}
		}
	})

	t.Run("uses_topic_record_name_subjects", func(t *testing.T) {
		subjects, err := rc.client.GetSubjects()
		if err != nil {
			t.Fatal(err)
		}
		want := topic + "-io.somafractalmemory.events.MemoryStored"
		found := false
		for _, s := range subjects {
			found = found || s == want
		}
		if !found {
			t.Fatalf("subject %s not in %v", want, subjects)
		}
	})

	t.Run("resolve_finds_the_registered_ids", func(t *testing.T) {
		fresh := newTestClient(t, url, topic, cat)
		refs, err := fresh.Resolve(ctx)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if !equalRefs(first, refs) {
			t.Fatalf("resolved %v, registered %v", refs, first)
		}
	})

	t.Run("prepare_without_auto_register_resolves", func(t *testing.T) {
		fresh, err := NewRegistryClient(RegistryConfig{URL: url, Topic: topic}, cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := fresh.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		if !equalRefs(first, fresh.KnownIDs()) {
			t.Fatalf("known %v", fresh.KnownIDs())
		}
	})

	t.Run("resolve_names_the_missing_subject", func(t *testing.T) {
		empty := uniqueTopic()
		fresh, err := NewRegistryClient(RegistryConfig{URL: url, Topic: empty}, cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = fresh.Prepare(ctx)
		if !errors.Is(err, ErrNotRegistered) || !strings.Contains(err.Error(), empty+"-io.somafractalmemory.events.") {
			t.Fatalf("err = %v, want ErrNotRegistered naming the subject", err)
		}
		if _, err := NewCodec(cat, fresh); err == nil || !strings.Contains(err.Error(), "no registry id") {
			t.Fatalf("NewCodec without ids: %v", err)
		}
	})

	t.Run("list_shows_registry_ids", func(t *testing.T) {
		entries, err := rc.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]int{}
		for _, r := range first {
			ids[r.Event] = r.ID
		}
		for _, e := range entries {
			if e.ID == 0 || e.ID != ids[e.Event] {
				t.Errorf("entry %+v, want id %d", e, ids[e.Event])
			}
		}
		unregistered, err := newTestClient(t, url, uniqueTopic(), cat).List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range unregistered {
			if e.ID != 0 {
				t.Errorf("unregistered entry %+v has an id", e)
			}
		}
	})

	t.Run("check_registry_is_clean_after_register", func(t *testing.T) {
		problems, err := rc.CheckRegistry(ctx)
		if err != nil || len(problems) != 0 {
			t.Fatalf("CheckRegistry: %v %v", problems, err)
		}
		problems, err = newTestClient(t, url, uniqueTopic(), cat).CheckRegistry(ctx)
		if err != nil || len(problems) != 0 {
			t.Fatalf("CheckRegistry on unregistered subjects: %v %v", problems, err)
		}
	})

	t.Run("registers_newer_versions_after_older", func(t *testing.T) {
		v2 := catalogWithV2(t, "testdata/evolution/MemoryStored.v2.avsc")
		refs, err := newTestClient(t, url, topic, v2).Register(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 2 || refs[0].Version != 1 || refs[1].Version != 2 {
			t.Fatalf("refs %v", refs)
		}
		for _, r := range first {
			if r.Event == domain.EventMemoryStored && r.ID != refs[0].ID {
				t.Fatalf("v1 id changed from %d to %d", r.ID, refs[0].ID)
			}
		}
		versions, err := rc.client.GetSchemaVersions(rc.Subject(domain.EventMemoryStored))
		if err != nil || len(versions) != 2 {
			t.Fatalf("versions %v, %v", versions, err)
		}
	})

	t.Run("real_registry_rejects_incompatible_v2", func(t *testing.T) {
		if !testRegistryURLIsReal() {
			t.Skip("the fake registry answers compatible to everything; see TestRegisterRejected")
		}
		bad := catalogWithV2(t, "testdata/incompatible/MemoryStored.v2.avsc")
		_, err := newTestClient(t, url, topic, bad).Register(ctx)
		if !errors.Is(err, ErrSchemaRejected) || !strings.Contains(err.Error(), rc.Subject(domain.EventMemoryStored)) {
			t.Fatalf("err = %v", err)
		}
	})
}

func equalRefs(a, b []SchemaRef) bool {
	key := func(rs []SchemaRef) map[SchemaRef]bool {
		m := map[SchemaRef]bool{}
		for _, r := range rs {
			m[r] = true
		}
		return m
	}
	ka, kb := key(a), key(b)
	if len(ka) != len(kb) {
		return false
	}
	for r := range ka {
		if !kb[r] {
			return false
		}
	}
	return true
}

func TestRegisterRejected(t *testing.T) {
	cat := builtinCatalog(t)
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"incompatible_409", http.StatusConflict, `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema"}`},
		{"invalid_422", http.StatusUnprocessableEntity, `{"error_code":42201,"message":"Invalid schema"}`},
		{"plain_text_409", http.StatusConflict, `conflict`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			rc := newTestClient(t, srv.URL, DefaultTopic, cat)
			_, err := rc.Register(context.Background())
			if !errors.Is(err, ErrSchemaRejected) {
				t.Fatalf("err = %v, want ErrSchemaRejected", err)
			}
			if !strings.Contains(err.Error(), `subject "memory.events-io.somafractalmemory.events.`) {
				t.Fatalf("error does not name the subject: %v", err)
			}
		})
	}

	t.Run("server_error_is_not_a_rejection", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error_code":50001,"message":"store error"}`)
		}))
		t.Cleanup(srv.Close)
		_, err := newTestClient(t, srv.URL, DefaultTopic, cat).Register(context.Background())
		if err == nil || errors.Is(err, ErrSchemaRejected) || !strings.Contains(err.Error(), "500") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRegistryAtApicurioPath(t *testing.T) {
	// Apicurio serves the Confluent API under /apis/ccompat/v7.
	fake := srfake.NewRegistry()
	mux := http.NewServeMux()
	mux.Handle("/apis/ccompat/v7/", http.StripPrefix("/apis/ccompat/v7", fake.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	cat := builtinCatalog(t)
	codec, _ := registeredCodec(t, srv.URL+"/apis/ccompat/v7/", DefaultTopic, cat)
	b, err := codec.Encode(sampleEvents()[0].event)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Decode(b); err != nil {
		t.Fatal(err)
	}
	if !fake.SubjectExists("memory.events-io.somafractalmemory.events.MemoryStored") {
		t.Fatal("subject not registered through the prefixed path")
	}
}

func TestRegistryAuth(t *testing.T) {
	fake := srfake.New(srfake.WithAuth("Bearer s3cret"))
	t.Cleanup(fake.Close)
	cat := builtinCatalog(t)

	rc, err := NewRegistryClient(RegistryConfig{URL: fake.URL(), BearerToken: "s3cret"}, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Register(context.Background()); err != nil {
		t.Fatalf("with token: %v", err)
	}
	rc, err = NewRegistryClient(RegistryConfig{URL: fake.URL()}, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Register(context.Background()); err == nil {
		t.Fatal("registered without the token")
	}
}

func TestRegistryTimeouts(t *testing.T) {
	cat := builtinCatalog(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	t.Run("each_request_is_bounded_by_the_timeout", func(t *testing.T) {
		rc, err := NewRegistryClient(RegistryConfig{URL: srv.URL, Timeout: 100 * time.Millisecond}, cat, &http.Client{Timeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = rc.Register(context.Background())
		if err == nil {
			t.Fatal("Register against a silent registry succeeded")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %s", d)
		}
		if _, err := rc.SchemaByID(99); err == nil || Permanent(err) {
			t.Fatalf("SchemaByID: %v, want a transient error", err)
		}
	})

	t.Run("cancelled_context_returns_promptly", func(t *testing.T) {
		rc, err := NewRegistryClient(RegistryConfig{URL: srv.URL, Timeout: time.Minute}, cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := rc.Register(ctx)
			done <- err
		}()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Register did not return after cancel")
		}
	})

	t.Run("given_http_client_is_not_modified", func(t *testing.T) {
		hc := &http.Client{}
		if _, err := NewRegistryClient(RegistryConfig{URL: srv.URL}, cat, hc); err != nil {
			t.Fatal(err)
		}
		if hc.Timeout != 0 {
			t.Fatalf("caller's client timeout changed to %s", hc.Timeout)
		}
	})
}

func TestCheckRegistryReportsProblems(t *testing.T) {
	ctx := context.Background()
	fake := srfake.New()
	t.Cleanup(fake.Close)
	cat := builtinCatalog(t)
	rc := newTestClient(t, fake.URL(), DefaultTopic, cat)
	if _, err := rc.Register(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("weaker_compatibility_level", func(t *testing.T) {
		subject := rc.Subject(domain.EventMemoryDeleted)
		if err := fake.SetCompat(subject, sr.CompatBackward); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fake.SetCompat(subject, sr.CompatBackwardTransitive) })
		problems, err := rc.CheckRegistry(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 1 || problems[0].Subject != subject || !problems[0].Registry || !strings.Contains(problems[0].Reason, "BACKWARD,") {
			t.Fatalf("problems %v", problems)
		}
	})

	t.Run("registry_says_incompatible", func(t *testing.T) {
		fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/compatibility/subjects/"+rc.Subject(domain.EventMemoryStored)+"/") {
				return false
			}
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			_, _ = io.WriteString(w, `{"is_compatible":false}`)
			return true
		})
		t.Cleanup(fake.ClearInterceptors)
		problems, err := rc.CheckRegistry(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 1 || problems[0].Event != domain.EventMemoryStored || problems[0].WriterVersion != 1 {
			t.Fatalf("problems %v", problems)
		}
	})

	t.Run("registry_failure_is_an_error", func(t *testing.T) {
		fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		})
		t.Cleanup(fake.ClearInterceptors)
		if _, err := rc.CheckRegistry(ctx); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRegistryConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     RegistryConfig
		wantErr []string
	}{
		{"accepts_defaults_with_url", RegistryConfig{URL: "http://apicurio:8080/apis/ccompat/v7"}.WithDefaults(), nil},
		{"rejects_empty_url", RegistryConfig{}.WithDefaults(), []string{"URL is empty"}},
		{"rejects_non_http_url", RegistryConfig{URL: "apicurio:8080"}.WithDefaults(), []string{"not an http(s) URL"}},
		{"rejects_zero_timeout_and_topic", RegistryConfig{URL: "http://r"}, []string{"topic is empty", "timeout"}},
		{"rejects_half_basic_auth", RegistryConfig{URL: "http://r", Username: "u"}.WithDefaults(), []string{"together"}},
		{"rejects_two_auth_methods", RegistryConfig{URL: "http://r", Username: "u", Password: "p", BearerToken: "t"}.WithDefaults(), []string{"exclusive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"confluent_subcode", srclient.Error{Code: 40403}, 404},
		{"plain_code", srclient.Error{Code: 409}, 409},
		{"invalid_schema", srclient.Error{Code: 42201}, 422},
		{"status_line", errors.New("404 Not Found"), 404},
		{"network_error", errors.New("dial tcp: connection refused"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status(tt.err); got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
		})
	}
}
