frontend: true
