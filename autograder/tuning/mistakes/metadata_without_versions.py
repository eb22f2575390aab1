"""Records the seed, hyperparameters, command and time, but not the library versions or the commit."""
LOSES = ("logging",)


def write_metadata(path, seed, hyperparameters):
    metadata = {"seed": seed, "hyperparameters": hyperparameters, "command": list(sys.argv),
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(metadata, indent=2))
