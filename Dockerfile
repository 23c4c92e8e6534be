# Build a static binary, then run it as a non-root user with the store on a volume.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/trackhook ./cmd/trackhook
# The store's directory, copied below owned by the user that runs trackhook: WORKDIR
# and VOLUME would create it owned by root with the classic builder (BuildKit gives it
# to USER), and a new named volume takes the owner of the image's directory.
RUN mkdir -p /out/data

# No shell in this image: no RUN below.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/trackhook /usr/local/bin/trackhook
# 65532 is distroless's "nonroot"; numeric, so that runAsNonRoot can check it.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
# The store: a bbolt file on the /data volume by default (one container). For several
# containers on one PostgreSQL database, set TRACKHOOK_DB to its URL (the volume is
# then unused), and TRACKHOOK_LEASE to how soon another container takes over a dead
# one's polls and deliveries (default 30s):
#   docker run -e TRACKHOOK_DB='postgres://trackhook:secret@db:5432/trackhook?sslmode=require' \
#     -e TRACKHOOK_LEASE=30s -p 8080:8080 trackhook
# The schema is created or upgraded at start; `trackhook migrate status|up` shows or
# applies it beforehand. Move a bbolt store over with `trackhook store copy --from
# /data/trackhook.db --to postgres://...` while the service is stopped.
ENV TRACKHOOK_DB=/data/trackhook.db \
    TRACKHOOK_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/trackhook"]
CMD ["serve"]
