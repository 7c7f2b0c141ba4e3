package loadbalancer

import (
	"os"
	"strings"
	"testing"
)

// The header of HAProxy 2.6's CSV, up to the columns ParseStats reads.
const statsHeader = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,\n"

// statsRow is a CSV row with the given columns filled.
func statsRow(px, sv, status, check, code, last string) string {
	f := make([]string, 58)
	f[0], f[1], f[17], f[36], f[37], f[56] = px, sv, status, check, code, last
	return strings.Join(f, ",") + "\n"
}

type serverWant struct {
	id string // backend/server
	up bool
}

func TestParseStats(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/stats/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name     string
		csv      string
		backends []string
		servers  []serverWant
		status   map[string]string
	}{
		{
			name:     "right after start: unchecked servers are UP 1/3 with INI, not up",
			csv:      read("after-start.csv"),
			backends: []string{"kube-apiserver", "vault", "traefik"},
			servers: []serverWant{
				{"kube-apiserver/master-1", false}, {"kube-apiserver/master-2", false},
				{"vault/ct01005", false}, {"traefik/worker-1", false}, {"traefik/worker-2", false},
			},
			status: map[string]string{"vault/ct01005": "UP 1/3 INI", "traefik/worker-2": "no check ", "kube-apiserver/master-1": "DOWN L4CON"},
		},
		{
			name:     "checked: L7OK and L4OK are up; a Vault standby (429) and a refused connection are not",
			csv:      read("checked.csv"),
			backends: []string{"kube-apiserver", "vault", "traefik"},
			servers: []serverWant{
				{"kube-apiserver/master-1", true}, {"kube-apiserver/master-2", false},
				{"vault/ct01005", false}, {"traefik/worker-1", true}, {"traefik/worker-2", false},
			},
			status: map[string]string{"vault/ct01005": "DOWN L7STS", "kube-apiserver/master-1": "UP L7OK"},
		},
		{
			name: "a check in progress, L7OKC, drain, maintenance, TLS hello only, quoted fields",
			csv: statsHeader +
				statsRow("api", "FRONTEND", "OPEN", "", "", "") +
				statsRow("api", "m1", "UP", "* L7OK", "200", "") +
				statsRow("api", "m2", "UP", "L7OKC", "404", "") +
				statsRow("api", "m3", "DRAIN", "L7OK", "200", "") +
				statsRow("api", "m4", "MAINT", "L7OK", "200", "") +
				statsRow("api", "m5", "UP", "L6OK", "", "") +
				statsRow("api", "m6", "UP 2/3", "L7STS", "503", `"Service Unavailable, try later"`) +
				statsRow("api", "BACKEND", "UP", "", "", ""),
			backends: []string{"api"},
			servers: []serverWant{
				{"api/m1", true}, {"api/m2", true}, {"api/m3", false}, {"api/m4", false}, {"api/m5", false}, {"api/m6", false},
			},
			status: map[string]string{"api/m1": "UP L7OK", "api/m6": "UP 2/3 L7STS"},
		},
		{
			name:     "frontends only",
			csv:      statsHeader + statsRow("homelab-health", "FRONTEND", "OPEN", "", "", ""),
			backends: nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseStats([]byte(c.csv))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			servers := map[string]ServerStatus{}
			for _, b := range got {
				names = append(names, b.Name)
				for _, s := range b.Servers {
					servers[s.Backend+"/"+s.Server] = s
				}
			}
			if strings.Join(names, " ") != strings.Join(c.backends, " ") {
				t.Errorf("backends %v, want %v", names, c.backends)
			}
			if len(servers) != len(c.servers) {
				t.Errorf("%d servers, want %d", len(servers), len(c.servers))
			}
			for _, w := range c.servers {
				s, ok := servers[w.id]
				if !ok {
					t.Errorf("no server %s", w.id)
					continue
				}
				if s.Up() != w.up {
					t.Errorf("%s: Up() = %v, want %v", s, s.Up(), w.up)
				}
			}
			for id, want := range c.status {
				if s := servers[id]; s.Status+" "+s.CheckStatus != want {
					t.Errorf("%s: %q, want %q", id, s.Status+" "+s.CheckStatus, want)
				}
			}
		})
	}
}

func TestServerStatusDetails(t *testing.T) {
	b, err := os.ReadFile("testdata/stats/checked.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseStats(b)
	if err != nil {
		t.Fatal(err)
	}
	vault := got[1]
	if vault.Name != "vault" || vault.Status != "DOWN" {
		t.Fatalf("backend %+v", vault)
	}
	if s := vault.Servers[0].String(); s != "vault/ct01005 DOWN L7STS (429, Too Many Requests)" {
		t.Errorf("String() = %q", s)
	}
	if down := got[0].NotUp(); len(down) != 1 || down[0].Server != "master-2" || down[0].LastCheck != "Connection refused" {
		t.Errorf("NotUp() = %v", down)
	}
	if !got[0].Servers[0].Layer7() || got[2].Servers[0].Layer7() {
		t.Error("Layer7 is true for L7OK only")
	}
}

func TestParseStatsRejects(t *testing.T) {
	cases := map[string]struct{ csv, want string }{
		"not stats":     {"Unknown command. Please enter one of the following commands only :\n", "not HAProxy stats CSV"},
		"empty":         {"", "not HAProxy stats CSV"},
		"no status":     {"# pxname,svname,check_status,check_code,last_chk\n", `no "status" column`},
		"short row":     {statsHeader + "api,m1,0\n", "line 2: 3 fields"},
		"no proxy name": {statsHeader + statsRow("", "m1", "UP", "L7OK", "", ""), "line 2: no proxy or server name"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseStats([]byte(c.csv))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func FuzzParseStats(f *testing.F) {
	for _, name := range []string{"after-start.csv", "checked.csv"} {
		b, err := os.ReadFile("testdata/stats/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(statsHeader + statsRow("api", "m1", "UP", "* L7OK", "200", `"a,b"`)))
	f.Add([]byte("# pxname,svname,status,check_status,check_code,last_chk\nx,y,UP,L7OK,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseStats(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, b := range got {
			if b.Name == "" || seen[b.Name] {
				t.Fatalf("backend name %q empty or repeated", b.Name)
			}
			seen[b.Name] = true
			for _, s := range b.Servers {
				if s.Backend != b.Name || s.Server == "" || s.Server == "BACKEND" || s.Server == "FRONTEND" {
					t.Fatalf("server %+v in backend %q", s, b.Name)
				}
				if s.Up() && (s.Status != "UP" || !(s.Layer7() || s.CheckStatus == "L4OK")) {
					t.Fatalf("%s counts as up", s)
				}
			}
		}
	})
}

func TestNotUp(t *testing.T) {
	backends := []BackendStatus{{Name: "k8s-api", Servers: []ServerStatus{
		{Backend: "k8s-api", Server: "master-1", Status: "UP", CheckStatus: "L7OK"},
		{Backend: "k8s-api", Server: "master-2", Status: "DOWN", CheckStatus: "L4CON"},
	}}}
	if got := NotUp(backends, []string{"master-1"}); got != "" {
		t.Errorf("an up server: %q", got)
	}
	if got := NotUp(backends, []string{"master-1", "master-2"}); !strings.Contains(got, "k8s-api/master-2 is") || strings.Contains(got, "master-1") {
		t.Errorf("a down server: %q", got)
	}
	if got := NotUp(backends, []string{"master-3"}); got != "master-3 is in no backend" {
		t.Errorf("a missing server: %q", got)
	}
}
