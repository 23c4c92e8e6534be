# Build a static binary, then run it as a non-root user with the store on a volume.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/trackhook ./cmd/trackhook

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/trackhook /usr/local/bin/trackhook
USER nonroot:nonroot
WORKDIR /data
VOLUME ["/data"]
ENV TRACKHOOK_DB=/data/trackhook.db \
    TRACKHOOK_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/trackhook"]
CMD ["serve"]
