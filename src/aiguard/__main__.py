from aiguard.main import main

raise SystemExit(main())
