package armsim

import "time"

// Demo subscription IDs, fixed so that a newcomer's screen and the docs agree.
const (
	DemoProduction = "1f0c3a52-6d0e-4b8e-9a51-2a7c3e5d9b01"
	DemoPlatform   = "7b2e9d14-0c3f-4a6b-8e27-5f1d2c4b6a02"
	DemoSandbox    = "c4d8e1f7-3a2b-4c9d-b0e5-8f6a7d3c2b03"
	DemoRetired    = "e9a7b3c1-5d4f-4e2a-9c8b-1d0e2f3a4b04"
)

// DemoEstate is the built-in estate of `--demo`, relative to now so that it always shows every
// case: versions purged within hours and within days, one overdue, api-2026 galleries with
// retention and grace (one unusable but still recoverable), a gallery with soft delete off that
// still holds a version, an empty recycle bin, several subscriptions and a disabled one; the
// Activity Log names a pipeline, a managed identity and two people as deleters, and has no entry
// for one version.
// Who deleted the demo's versions, as its Activity Log tells: the image pipeline prunes, people
// make the accidents.
var (
	DemoPipeline = &Caller{Name: "3f6c2a9e-1b7d-4e5f-9a8c-2d4b6e8f0a13", PrincipalType: "ServicePrincipal",
		AppID: "3f6c2a9e-1b7d-4e5f-9a8c-2d4b6e8f0a13", ObjectID: "8e1d4c7b-2a5f-4b9e-8c3d-6f0a2b4d6e81", ClientIP: "20.61.17.42"}
	DemoNodeImages = &Caller{Name: "id-aks-node-images", PrincipalType: "ManagedIdentity",
		AppID: "b7e2d9c4-6a1f-4e3b-8d5c-0f2a4c6e8b57", ObjectID: "4c9a1e7d-3b6f-4a2c-9e8d-1b5f7a3c9e26", ClientIP: "20.49.104.9"}
	DemoAlice = &Caller{Name: "alice@contoso.com", AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
		ObjectID: "a1c3e5f7-9b2d-4f6a-8c0e-2d4f6a8c0e11", ClientIP: "203.0.113.7"}
	DemoBob = &Caller{Name: "bob@contoso.com", AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
		ObjectID: "b2d4f6a8-0c3e-4a7b-9d1f-3e5a7c9e1f22", ClientIP: "198.51.100.23"}
)

func DemoEstate(now time.Time) Estate {
	ago := func(d time.Duration) time.Time { return now.Add(-d).UTC().Truncate(time.Second) }
	const h, d = time.Hour, 24 * time.Hour
	return Estate{Subscriptions: []Subscription{
		{ID: DemoProduction, DisplayName: "Production", Galleries: []Gallery{
			{Name: "prodimages", ResourceGroup: "rg-images-prod", Location: "West Europe",
				Tags: map[string]string{"owner": "team-a"}, SoftDelete: &SoftDeletePolicy{Enabled: true},
				Images: []Image{
					{Name: "ubuntu-22.04-base", Versions: []string{"1.4.0"}, SoftDeleted: []SoftDeleted{
						{Version: "1.2.0", DeletedAt: ago(7*d - 2*h - 40*time.Minute), DeletedBy: DemoAlice}, // purged in ~2h40m
						{Version: "1.3.0", DeletedAt: ago(6*d + 4*h), DeletedBy: DemoPipeline},               // ~20h
						{Version: "1.3.1", DeletedAt: ago(2 * d), DeletedBy: DemoPipeline},                   // ~5d
					}},
					{Name: "windows-2022-iis", Tags: map[string]string{"owner": "team-web"}, Versions: []string{"2024.11.2"},
						SoftDeleted: []SoftDeleted{
							{Version: "2024.10.1", DeletedAt: ago(7*d + 25*time.Minute), DeletedBy: DemoPipeline}, // overdue
							{Version: "2024.11.1", DeletedAt: ago(4 * d), DeletedBy: DemoPipeline},                // ~3d
						}},
					{Name: "rhel-9-hardened", Versions: []string{"9.4.1", "9.4.2"}, Failed: []string{"9.4.1"}},
				}},
			{Name: "legacyimages", ResourceGroup: "rg-legacy", Location: "West Europe",
				Images: []Image{{Name: "centos-7", SoftDeleted: []SoftDeleted{
					// soft delete was turned off after this was deleted: still in the bin.
					{Version: "7.9.5", DeletedAt: ago(6*d + 19*h), DeletedBy: DemoBob},
				}}}},
		},
			// A VM still created from a version purged within hours: the audit's critical finding.
			VMs: []VM{
				{Name: "web-prod-01", ResourceGroup: "rg-web", Location: "westeurope",
					ImageID: "/subscriptions/" + DemoProduction + "/resourceGroups/rg-images-prod/providers/Microsoft.Compute/galleries/prodimages/images/ubuntu-22.04-base/versions/1.2.0"},
				{Name: "web-prod-02", ResourceGroup: "rg-web", Location: "westeurope",
					ImageID: "/subscriptions/" + DemoProduction + "/resourceGroups/rg-images-prod/providers/Microsoft.Compute/galleries/prodimages/images/ubuntu-22.04-base/versions/1.4.0"},
			},
		},
		{ID: DemoPlatform, DisplayName: "Platform", Galleries: []Gallery{
			{Name: "platformgallery", ResourceGroup: "rg-platform", Location: "East US 2",
				SoftDelete:   &SoftDeletePolicy{Enabled: true, RetentionDays: Days(7), GraceDays: Days(30)},
				ServiceTimes: true, Tags: map[string]string{"owner": "platform"},
				Images: []Image{
					{Name: "aks-node-ubuntu", Versions: []string{"2024.12.0"}, SoftDeleted: []SoftDeleted{
						{Version: "2024.09.0", DeletedAt: ago(8 * d)},                                  // unusable, purged in ~29d; no entry in the Activity Log
						{Version: "2024.10.0", DeletedAt: ago(6*d + 12*h), DeletedBy: DemoNodeImages},  // unusable in ~12h
						{Version: "2024.11.0", DeletedAt: ago(36*d + 21*h), DeletedBy: DemoNodeImages}, // purged in ~3h
					}},
				}},
			{Name: "sharedimages", ResourceGroup: "rg-platform", Location: "East US 2",
				SoftDelete: &SoftDeletePolicy{Enabled: true, RetentionDays: Days(30), GraceDays: Days(7)},
				Images: []Image{
					{Name: "build-agent", Versions: []string{"3.1.0"}, SoftDeleted: []SoftDeleted{
						{Version: "3.0.0", DeletedAt: ago(15 * d), DeletedBy: DemoAlice},
					}},
				}},
		},
			ScaleSets: []ScaleSet{
				// Flexible orchestration with an image from a soft-delete gallery: an audit warning.
				{Name: "aks-nodepool-flex", ResourceGroup: "rg-aks", Location: "eastus2", Flexible: true,
					ImageID: "/subscriptions/" + DemoPlatform + "/resourceGroups/rg-platform/providers/Microsoft.Compute/galleries/platformgallery/images/aks-node-ubuntu/versions/2024.12.0"},
				{Name: "build-agents", ResourceGroup: "rg-ci", Location: "eastus2",
					ImageID: "/subscriptions/" + DemoPlatform + "/resourceGroups/rg-platform/providers/Microsoft.Compute/galleries/sharedimages/images/build-agent/versions/3.0.0"},
			},
		},
		{ID: DemoSandbox, DisplayName: "Sandbox", Galleries: []Gallery{
			{Name: "sandboxgallery", ResourceGroup: "rg-sandbox", Location: "North Europe",
				SoftDelete: &SoftDeletePolicy{Enabled: true},
				Images:     []Image{{Name: "playground", Versions: []string{"0.1.0"}}}},
		}},
		{ID: DemoRetired, DisplayName: "Retired", State: "Disabled"},
	}}
}
