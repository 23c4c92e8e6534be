package api

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// backup is GET /admin/backup: it streams a consistent copy of the database as a file
// download. Once bytes have gone out the status cannot change, so a failure midway
// cuts the connection: the client sees a broken transfer, never a truncated file that
// looks complete.
func (s *server) backup(c echo.Context) error {
	name := "trackhook-" + s.now().UTC().Format("20060102T150405Z") + ".db"
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, echo.MIMEOctetStream)
	res.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
	n, err := s.opts.Backup.Backup(c.Request().Context(), res)
	if err == nil {
		if !res.Committed {
			res.WriteHeader(http.StatusOK) // an empty copy still is a 200
		}
		return nil
	}
	if !res.Committed {
		// The error handler writes JSON, and echo keeps a Content-Type already set.
		res.Header().Del(echo.HeaderContentType)
		res.Header().Del(echo.HeaderContentDisposition)
		return fmt.Errorf("backup: %w", err)
	}
	s.log.ErrorContext(c.Request().Context(), "backup failed after it started streaming",
		slog.String("request_id", requestID(c)), slog.Int64("bytes", n), slog.Any("err", err))
	panic(http.ErrAbortHandler)
}
