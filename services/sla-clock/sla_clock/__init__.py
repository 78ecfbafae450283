"""SLA clock: response and recovery clocks per incident, deadlines, breaches."""
