package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/observable"
)

// withPrincipal is extra environment that makes a process authenticate to
// Kafka as principal.
func (in *instance) withPrincipal(principal string, extra map[string]string) map[string]string {
	out := in.st.KafkaEnv(in.t, principal)
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// TestComponentsRunAsTheirOwnPrincipals deploys Heimdall the least-privilege
// way, each component a process with its own Kafka principal
// (deploy/kafka/acls.txt): the administrator creates the topics with
// `heimdall topics create`; the API and ingest run as heimdall-ingest (which
// may append but not read or create topics), the projector as
// heimdall-projector (read only), the enricher as heimdall-enricher. A
// batch uploaded goes through all of them into the graph, enriched.
// Without the administrator's topics, the ingest principal's start fails
// with a message that says what to do.
func TestComponentsRunAsTheirOwnPrincipals(t *testing.T) {
	requireStack(t)
	in := newInstance(t)

	t.Run("ingest principal cannot create topics", func(t *testing.T) {
		p := in.start("serve-no-topics", in.withPrincipal(devstack.KafkaIngest, map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"}), "serve")
		select {
		case <-p.done:
		case <-time.After(90 * time.Second):
			p.kill9(t)
			t.Fatal("serve as heimdall-ingest without topics did not exit")
		}
		if p.cmd.ProcessState.Success() {
			t.Fatal("serve as heimdall-ingest without topics exited 0")
		}
		if logs := in.logs("serve-no-topics"); !strings.Contains(logs, "may not create it") || !strings.Contains(logs, "heimdall topics create") {
			t.Fatalf("the refusal does not say what to do:\n%s", logs)
		}
	})

	admin := in.start("topics-create", in.withPrincipal(devstack.KafkaAdmin, nil), "topics", "create")
	select {
	case <-admin.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("heimdall topics create did not finish")
	}
	if !admin.cmd.ProcessState.Success() {
		t.Fatalf("heimdall topics create as the admin:\n%s", in.logs("topics-create"))
	}

	dir := t.TempDir()
	city, asn := writeGeoDatabases(t, dir)
	dot := startDoT(t, in.st)
	fake := startFakeProviders(t, in.st, 0)
	providers := providersFile(t, in.st, city, asn, dot, fake, 2)

	in.serve("api", in.withPrincipal(devstack.KafkaIngest, map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"}))
	in.start("projector", in.withPrincipal(devstack.KafkaProjector, nil), "projector")
	in.start("enricher", in.withPrincipal(devstack.KafkaEnricher, map[string]string{
		"HEIMDALL_COMPONENTS": "enricher", "HEIMDALL_ENRICH_PROVIDERS": providers, "E2E_REP_KEY": "rep-secret"}), "serve")

	const n = 20
	res := in.mustIngest(dnsLines(0, n), "source=principals&format=ndjson&profile=generic")
	if res.Accepted != n {
		t.Fatalf("accepted %d of %d", res.Accepted, n)
	}
	s := in.store()
	in.waitReputation(n, 3*time.Minute, "by the enricher's principal")
	in.waitProjected(s, 2*time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for i := range n {
		key := keyOf(t, observable.KindIPv4Addr, enrichIP(i))
		if _, err := s.Entity(ctx, key); err != nil {
			t.Fatalf("address %d is not in the graph: %v", i, err)
		}
	}
}
