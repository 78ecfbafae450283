"""Router: gives each incident to the primary owner of its layer and to the coordinator."""
