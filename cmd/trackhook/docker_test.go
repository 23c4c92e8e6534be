package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The module root, where Dockerfile and .dockerignore are.
const repoRoot = "../.."

// dockerIgnored reports whether .dockerignore's patterns leave path (slash-separated,
// relative to the build context) out of the context, as Docker reads them: the last
// pattern that matches the path or one of its parent directories decides, "!" keeps,
// "*" and "?" stay within a path element, "**" spans any number of them.
func dockerIgnored(patterns []string, path string) bool {
	ignored := false
	for _, p := range patterns {
		keep := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		var re strings.Builder
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		match := regexp.MustCompile("^" + re.String() + "$")
		for dir := path; dir != "."; dir = filepath.Dir(dir) {
			if match.MatchString(dir) {
				ignored = !keep
				break
			}
		}
	}
	return ignored
}

// TestDockerignore_LeavesOutHistoryStoresAndBuildOutputs checks .dockerignore: the
// build context has the Go source, and not .git, a local store or a built binary.
func TestDockerignore_LeavesOutHistoryStoresAndBuildOutputs(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, path := range []string{
		".git/HEAD", ".git/objects/ab/cdef", "trackhook.db", "data/trackhook.db", "trackhook.db.bak",
		"trackhook", "trackhook-bench", "cmd/trackhook/trackhook.test", "cpu.prof", "cover.out",
	} {
		if !dockerIgnored(patterns, path) {
			t.Errorf("%s is in the build context", path)
		}
	}
	for _, path := range []string{"go.mod", "go.sum", "cmd/trackhook/main.go", "api/openapi.yaml", "store/db.go"} {
		if dockerIgnored(patterns, path) {
			t.Errorf("%s, which the build needs, is left out of the context", path)
		}
	}
}

// TestDockerfile_DataIsOwnedByTheRuntimeUser checks that /data, the volume of the
// store, is given to the non-root user explicitly, as every builder does it (not only
// BuildKit, whose WORKDIR follows USER), and that the image runs as that user.
func TestDockerfile_DataIsOwnedByTheRuntimeUser(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string // instructions per stage, comments and continuations joined
	for _, line := range strings.Split(strings.ReplaceAll(string(raw), "\\\n", " "), "\n") {
		line = strings.Join(strings.Fields(line), " ")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "FROM "):
			stages = append(stages, []string{line})
		case len(stages) > 0:
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and runtime", len(stages))
	}
	build, runtime := stages[0], stages[1]
	const nonroot = "65532:65532" // distroless's nonroot
	if !slices.Contains(runtime, "USER "+nonroot) {
		t.Errorf("the runtime stage does not run as %s: %q", nonroot, runtime)
	}
	copyData := slices.IndexFunc(runtime, func(l string) bool {
		return strings.HasPrefix(l, "COPY --from=build --chown="+nonroot+" ") && strings.HasSuffix(l, " /data")
	})
	volume := slices.Index(runtime, `VOLUME ["/data"]`)
	switch {
	case copyData < 0:
		t.Errorf("no COPY --from=build --chown=%s ... /data in the runtime stage: %q", nonroot, runtime)
	case volume < copyData:
		t.Errorf("VOLUME /data must come after the COPY that owns it: %q", runtime)
	default:
		src := strings.Fields(runtime[copyData])[3]
		if !slices.ContainsFunc(build, func(l string) bool { return strings.HasPrefix(l, "RUN mkdir -p "+src) }) {
			t.Errorf("the build stage does not create %s: %q", src, build)
		}
	}
	for _, l := range runtime {
		if strings.HasPrefix(l, "RUN ") {
			t.Errorf("RUN in the distroless runtime stage, which has no shell: %s", l)
		}
	}
	if !slices.ContainsFunc(runtime, func(l string) bool { return strings.Contains(l, "TRACKHOOK_DB=/data/") }) {
		t.Error("the store is not on /data")
	}
}
