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
ENV TRACKHOOK_DB=/data/trackhook.db \
    TRACKHOOK_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/trackhook"]
CMD ["serve"]
