package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/pii/keys"
)

func masterKeyID(t *testing.T, b64 string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.NewMasterKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID()
}

// run runs a heimdall command to completion with the instance's
// environment plus extra.
func (in *instance) run(extra map[string]string, args ...string) (string, error) {
	in.t.Helper()
	cmd := exec.Command(heimdallBinary(in.t), args...)
	for k, v := range in.env {
		if _, ok := extra[k]; !ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dataKeyMasters returns the wrapping master key id of every stored data key.
func (in *instance) dataKeyMasters() map[string]string {
	in.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, in.dbURL)
	if err != nil {
		in.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT id, master_key_id FROM heimdall_keys.data_keys`)
	out := map[string]string{}
	var id, mk string
	if _, err := pgx.ForEachRow(rows, []any{&id, &mk}, func() error { out[id] = mk; return nil }); err != nil {
		in.t.Fatal(err)
	}
	return out
}

// TestMasterKeyRotation: Heimdall refuses to start without a strong master
// key; `heimdall keys rotate` re-wraps every data key under a new master
// key while Heimdall keeps serving, old data still decrypts, new writes use
// the new key, and afterwards no data key is wrapped by the old one.
func TestMasterKeyRotation(t *testing.T) {
	in := newInstance(t)
	oldKey := in.env["HEIMDALL_MASTER_KEY"]
	newKey := randomKey(t)
	oldID, newID := masterKeyID(t, oldKey), masterKeyID(t, newKey)

	// Missing or weak keys stop the start with a clear message.
	for name, extra := range map[string]map[string]string{
		"missing": {"HEIMDALL_MASTER_KEY": ""},
		"weak":    {"HEIMDALL_MASTER_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32))},
	} {
		out, err := in.run(extra, "serve")
		if err == nil || !strings.Contains(out, "HEIMDALL_MASTER_KEY") {
			t.Fatalf("%s master key: started or unclear (%v):\n%s", name, err, out)
		}
		if name == "weak" && strings.Contains(out, extra["HEIMDALL_MASTER_KEY"]) {
			t.Fatal("the error echoes the key")
		}
	}

	srv := in.serve("serve-old", nil)
	in.mustIngest([]byte(`{"src_ip":"192.0.2.10","email":"before@rotation.example"}`+"\n"), "source=rotation")
	s := in.store()
	in.waitProjected(s, time.Minute)
	before := in.personalKey(observable.KindEmailAddr, "before@rotation.example")
	if code, got := in.decrypt(in.token, decryptItem{Record: before, Field: "value"}); code != http.StatusOK || got[0].Value != "before@rotation.example" {
		t.Fatalf("decrypt before rotation: %d %+v", code, got)
	}
	srv.stop(t)

	// Restarted with the new key and the old one as previous: reads and
	// writes keep working during the rotation.
	during := map[string]string{"HEIMDALL_MASTER_KEY": newKey, "HEIMDALL_MASTER_KEY_PREVIOUS": oldKey}
	srv = in.serve("serve-during", during)
	if code, got := in.decrypt(in.token, decryptItem{Record: before, Field: "value"}); code != http.StatusOK || got[0].Value != "before@rotation.example" {
		t.Fatalf("decrypt during rotation: %d %+v", code, got)
	}
	// A rotation is a write: without an authenticated actor it is refused.
	if out, err := in.run(during, "keys", "rotate"); err == nil || !strings.Contains(out, "authenticated actor") {
		t.Fatalf("keys rotate without credentials: %v\n%s", err, out)
	}
	during["HEIMDALL_CLIENT_ID"] = devstack.ClientCLI
	during["HEIMDALL_CLIENT_SECRET"] = in.st.ClientSecret(t, devstack.ClientCLI)
	out, err := in.run(during, "keys", "rotate")
	if err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	var rot struct {
		MasterKeyID string         `json:"master_key_id"`
		Keys        int            `json:"data_keys"`
		Rewrapped   []string       `json:"rewrapped"`
		ByMaster    map[string]int `json:"data_keys_by_master_key"`
	}
	if err := json.Unmarshal([]byte(out), &rot); err != nil {
		t.Fatalf("rotate output: %v\n%s", err, out)
	}
	if rot.MasterKeyID != newID || len(rot.Rewrapped) == 0 || rot.ByMaster[newID] != rot.Keys || len(rot.ByMaster) != 1 {
		t.Fatalf("rotation: %+v", rot)
	}
	if strings.Contains(out, oldKey) || strings.Contains(out, newKey) {
		t.Fatal("keys rotate prints key material")
	}
	// Still serving: old data decrypts, new writes work.
	in.mustIngest([]byte(`{"src_ip":"192.0.2.11","email":"after@rotation.example"}`+"\n"), "source=rotation")
	in.waitProjected(s, time.Minute)
	after := in.personalKey(observable.KindEmailAddr, "after@rotation.example")
	code, got := in.decrypt(in.token, decryptItem{Record: before, Field: "value"}, decryptItem{Record: after, Field: "value"})
	if code != http.StatusOK || got[0].Value != "before@rotation.example" || got[1].Value != "after@rotation.example" {
		t.Fatalf("decrypt after rotation: %d %+v", code, got)
	}
	// The rotation is in the audit trail with its actor.
	var trail struct {
		Entries []struct {
			Actor   string            `json:"actor"`
			Details map[string]string `json:"details"`
		} `json:"entries"`
	}
	deadline := time.Now().Add(time.Minute)
	for len(trail.Entries) == 0 && time.Now().Before(deadline) {
		in.get("/v1/audit?action=keys.rotate", &trail)
		time.Sleep(200 * time.Millisecond)
	}
	if len(trail.Entries) != 1 || trail.Entries[0].Actor == "" || trail.Entries[0].Details["master_key_id"] != newID {
		t.Fatalf("rotation audit: %+v", trail.Entries)
	}
	srv.stop(t)

	// No data key is wrapped by the old master key any more.
	masters := in.dataKeyMasters()
	if len(masters) == 0 {
		t.Fatal("no data keys stored")
	}
	for id, mk := range masters {
		if mk != newID || mk == oldID {
			t.Errorf("data key %s wrapped by %s", id, mk)
		}
	}
	out, err = in.run(map[string]string{"HEIMDALL_MASTER_KEY": newKey}, "keys", "status")
	if err != nil || !strings.Contains(out, newID) || strings.Contains(out, oldID) {
		t.Fatalf("keys status: %v\n%s", err, out)
	}

	// The new key alone now opens everything; the old key alone opens
	// nothing and Heimdall says why.
	in.serve("serve-new", map[string]string{"HEIMDALL_MASTER_KEY": newKey})
	code, got = in.decrypt(in.token, decryptItem{Record: before, Field: "value"}, decryptItem{Record: after, Field: "value"})
	if code != http.StatusOK || got[0].Value != "before@rotation.example" || got[1].Value != "after@rotation.example" {
		t.Fatalf("decrypt with only the new key: %d %+v", code, got)
	}
	out, err = in.run(map[string]string{"HEIMDALL_MASTER_KEY": oldKey, "HEIMDALL_HTTP_ADDR": "127.0.0.1:0"}, "serve")
	if err == nil || !strings.Contains(out, "HEIMDALL_MASTER_KEY_PREVIOUS") {
		t.Fatalf("serve with the retired key: %v\n%s", err, out)
	}
}
