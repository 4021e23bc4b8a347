"""The parts of :mod:`portway_aws.package`: which files go in the Lambda zip
(:mod:`.files`) and the requirements installed for the Lambda platform
(:mod:`.requirements`). Deploy-time code: the handler never imports it."""
