package demo

// The tables a simulated voyage is drawn from. They are functions rather than
// package-level variables so that nothing at package level can be changed.

// region is a coast a port lies on; it decides routes, transit times and hubs.
type region int

const (
	asia region = iota
	europe
	usWest
	usEast
)

// port is a real port, by UN/LOCODE and name.
type port struct {
	code, name string
}

// exportPorts are the Asian ports where most voyages begin.
func exportPorts() []port {
	return []port{
		{"CNSHA", "Shanghai"},
		{"CNNGB", "Ningbo"},
		{"CNYTN", "Yantian"},
		{"KRPUS", "Busan"},
		{"TWKHH", "Kaohsiung"},
		{"VNSGN", "Ho Chi Minh City"},
	}
}

// importPorts are the far ends of the voyages, by region.
func importPorts(r region) []port {
	switch r {
	case europe:
		return []port{
			{"NLRTM", "Rotterdam"},
			{"DEHAM", "Hamburg"},
			{"BEANR", "Antwerp"},
			{"GBFXT", "Felixstowe"},
			{"FRLEH", "Le Havre"},
		}
	case usWest:
		return []port{
			{"USLAX", "Los Angeles"},
			{"USLGB", "Long Beach"},
			{"USOAK", "Oakland"},
		}
	default:
		return []port{
			{"USNYC", "New York"},
			{"USSAV", "Savannah"},
			{"USCHS", "Charleston"},
		}
	}
}

// hubs are the transshipment ports on the way between Asia and region r.
func hubs(r region) []port {
	switch r {
	case europe:
		return []port{
			{"SGSIN", "Singapore"},
			{"MYPKG", "Port Klang"},
			{"AEJEA", "Jebel Ali"},
			{"ESALG", "Algeciras"},
		}
	case usWest:
		return []port{
			{"KRPUS", "Busan"},
			{"JPYOK", "Yokohama"},
		}
	default:
		return []port{
			{"SGSIN", "Singapore"},
			{"PAMIT", "Manzanillo"},
		}
	}
}

// transitDays is the usual sea time between Asia and region r.
func transitDays(r region) int {
	switch r {
	case europe:
		return 30
	case usWest:
		return 15
	default:
		return 33
	}
}

// vessel is an invented ship; the IMO numbers carry a valid check digit but belong to
// no real ship we know of.
type vessel struct {
	name, imo string
}

func vessels() []vessel {
	return []vessel{
		{"NORDIC AURORA", "9526019"},
		{"PACIFIC MERIDIAN", "9815903"},
		{"CAPE VERITAS", "9830161"},
		{"ASTRAL HORIZON", "9613185"},
		{"MARE SERENA", "9609134"},
		{"OCEAN LANTERN", "9909962"},
		{"HANSA TIDE", "9030826"},
		{"JADE CORMORANT", "9462811"},
		{"SILVER ALBATROSS", "9948217"},
		{"KESTREL BAY", "9993511"},
		{"EASTERN PROMISE", "9819090"},
		{"ATLANTIC CANOPUS", "9378656"},
	}
}

// ownerCodes are invented ISO 6346 owner prefixes (the U marks a freight container).
func ownerCodes() []string {
	return []string{"DMOU", "TRKU", "SIMU", "HKTU"}
}

// isoCodes are common ISO 6346 size and type codes: 20 and 40 ft general purpose,
// 40 ft high cube, 20 ft reefer and 40 ft high cube reefer.
func isoCodes() []string {
	return []string{"22G1", "42G1", "45G1", "22R1", "45R1"}
}
