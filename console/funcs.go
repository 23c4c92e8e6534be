package console

// PLACEHOLDER (helper B): the template functions every page shares.

import "html/template"

func funcs() template.FuncMap { return template.FuncMap{} }
